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

variable "allowed_security_groups" {
  description = "Security groups allowed to connect on 6379, by a static name (eks_nodes, nomad_hosts)."
  type        = map(string)
  default     = {}
}

variable "auth_token" {
  description = "New AUTH token (letters and digits, 16-128 characters), written to Secrets Manager when auth_token_version changes."
  type        = string
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9]{16,128}$", var.auth_token))
    error_message = "The AUTH token must be 16 to 128 letters and digits (URL-safe in REDIS_URL)."
  }
}

variable "auth_token_version" {
  description = "Bump to write a new auth_token."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
