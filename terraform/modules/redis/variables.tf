variable "name" {
  description = "Replication group ID and prefix of its companions."
  type        = string
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "num_cache_clusters" {
  description = "Primary plus replicas (at least 2 for automatic failover)."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2
    error_message = "Automatic failover needs at least one replica (num_cache_clusters >= 2)."
  }
}

variable "vpc_id" {
  description = "VPC of the replication group."
  type        = string
}

variable "subnet_group_name" {
  description = "ElastiCache subnet group (isolated subnets in three AZs)."
  type        = string
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (EKS nodes, Nomad hosts)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
