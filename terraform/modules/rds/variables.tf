variable "name" {
  description = "Identifier of the DB instance and prefix of its companions."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version; minor versions follow auto_minor_version_upgrade."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^[0-9]+$", var.engine_version))
    error_message = "Pin the major version only (e.g. \"15\"): a minor pin fights AWS's automatic minor upgrades."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "expense_wise"
}

variable "master_username" {
  description = "Master user name; its generated password lands in Secrets Manager through DATABASE_URL."
  type        = string
  default     = "expense_wise"
}

variable "master_password" {
  description = "Master password; ephemeral, so the module cannot store it in the state."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "master_password_version" {
  description = "Bump to send a new master_password to RDS (rotation)."
  type        = number
  default     = 1
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "vpc_id" {
  description = "VPC of the instance."
  type        = string
}

variable "db_subnet_group_name" {
  description = "DB subnet group (isolated database subnets in three AZs)."
  type        = string
}

variable "allowed_security_groups" {
  description = "Security groups allowed to connect on 5432, by a static name (eks_nodes, nomad_hosts)."
  type        = map(string)
  default     = {}
}

variable "restore_from" {
  description = "Restore the new instance from replicated automated backups (ARN in this region) at restore_time (RFC 3339), or at the latest restorable time when null; null for an empty database."
  type = object({
    automated_backups_arn = string
    restore_time          = optional(string)
  })
  default = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
