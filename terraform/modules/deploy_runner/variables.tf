variable "name" {
  description = "Name prefix, e.g. expense-wise-production."
  type        = string
}

variable "vpc_id" {
  description = "VPC the runner runs in."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR (the Nomad API is reached inside it)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster the runner deploys to (eks:DescribeCluster for update-kubeconfig)."
  type        = string
}

variable "secrets_prefix" {
  description = "Secrets Manager prefix the inventories look up, e.g. expense-wise/production."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key of those secrets."
  type        = string
}

variable "enable_nomad" {
  description = "Grant SSM sessions to the Nomad hosts (a plain boolean, known at plan time)."
  type        = bool
  default     = false
}

variable "nomad_instance_arns" {
  description = "Nomad host ARNs the runner may open SSM sessions to."
  type        = list(string)
  default     = []
}

variable "ssm_transfer_bucket_arn" {
  description = "Bucket of the Ansible SSM connection (nomad_hosts output)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
