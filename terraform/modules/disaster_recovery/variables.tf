variable "name" {
  description = "Name prefix of the primary stack, e.g. expense-wise-production."
  type        = string
}

variable "source_buckets" {
  description = "The primary's receipts and backups buckets to replicate (name and ARN by role)."
  type = object({
    receipts = object({ name = string, arn = string })
    backups  = object({ name = string, arn = string })
  })
}

variable "source_kms_key_arn" {
  description = "KMS key of the source buckets (replication decrypts with it)."
  type        = string
}

variable "db_instance_arn" {
  description = "RDS instance whose automated backups (snapshots and transaction logs) are replicated."
  type        = string
}

variable "db_backup_retention_days" {
  description = "Days of replicated automated backups kept in the DR region (point-in-time restore window there)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "RDS keeps 1 to 35 days of replicated automated backups."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
