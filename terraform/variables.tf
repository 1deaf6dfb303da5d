variable "environment" {
  description = "Environment name: staging or production."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "AWS region (the app's AWS_REGION)."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr" {
  description = "VPC CIDR; must match the overlay's NetworkPolicy egress CIDR."
  type        = string
}

variable "single_nat_gateway" {
  description = "Share one NAT gateway across AZs (cheaper; staging)."
  type        = bool
  default     = false
}

variable "enable_eks" {
  description = "Create the EKS cluster (Kubernetes deployment path)."
  type        = bool
  default     = true
}

variable "enable_nomad" {
  description = "Create EC2 hosts for a Nomad cluster (Nomad deployment path)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.30"
}

variable "kubernetes_namespace" {
  description = "Namespace of the overlay (expense-wise or expense-wise-staging), trusted by the IRSA role."
  type        = string
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to the EKS public endpoint (office); empty for private only. CI deploys from the runner inside the VPC (deploy_runner)."
  type        = list(string)
  default     = []
}

variable "eks_general_min_size" {
  description = "Minimum nodes in the general node group."
  type        = number
  default     = 3
}

variable "eks_worker_min_size" {
  description = "Minimum nodes in the worker node group."
  type        = number
  default     = 2
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_num_cache_clusters" {
  description = "Redis primary plus replicas."
  type        = number
  default     = 2
}

variable "nomad_ami_id" {
  description = "AMI of new Nomad hosts; empty looks up the newest Ubuntu 24.04 once. Running hosts keep theirs: roll them one at a time (modules/nomad_hosts/README.md)."
  type        = string
  default     = ""
}

variable "credentials_version" {
  description = "Bump to generate a new database password (RDS and DATABASE_URL together), JWT secret and REDIS_URL; then redeploy."
  type        = number
  default     = 1
}

variable "nomad_server_count" {
  description = "Nomad servers when enable_nomad is true."
  type        = number
  default     = 3
}

variable "nomad_client_count" {
  description = "Nomad clients when enable_nomad is true."
  type        = number
  default     = 3
}

variable "disaster_recovery_region" {
  description = "Second region for disaster recovery: S3 replication of receipts and backups, RDS automated-backup replication, the secrets' replicas and the failover stack's state bucket (docs/runbooks/disaster-recovery.md). null: none."
  type        = string
  default     = null

  validation {
    condition     = var.disaster_recovery_region == null || var.disaster_recovery_region != var.region
    error_message = "The disaster-recovery region must differ from the primary region."
  }
}

variable "failover" {
  description = "Set only to bring this environment up in the DR region after losing the primary (environments/<env>-dr.tfvars): primary_name names the replicas to adopt; the database is restored from the replicated automated backups failover_db_automated_backups_arn. null: a normal stack."
  type = object({
    primary_name = string
    restore_time = optional(string)
  })
  default = null
}

variable "failover_db_automated_backups_arn" {
  description = "With failover: ARN of the replicated automated backups in this region (aws rds describe-db-instance-automated-backups; the runbook shows how)."
  type        = string
  default     = ""

  validation {
    condition     = var.failover == null || can(regex("^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:auto-backup:", var.failover_db_automated_backups_arn))
    error_message = "A failover stack restores from replicated automated backups: pass -var failover_db_automated_backups_arn=arn:aws:rds:<region>:<account>:auto-backup:ab-..."
  }
}

variable "alarm_subscriptions" {
  description = "Subscribers of the alarm SNS topic by a static name: { oncall = { protocol = \"email\", endpoint = \"oncall@example.com\" } }."
  type = map(object({
    protocol = string
    endpoint = string
  }))
  default = {}
}

variable "alarm_load_balancer" {
  description = "The API's load balancer, created by the ingress controller (or outside Terraform) after the first apply: type (application or network), ARN suffix and target groups' ARN suffixes by name. null: no load balancer alarms yet."
  type = object({
    type                      = string
    arn_suffix                = string
    target_group_arn_suffixes = map(string)
  })
  default = null
}
