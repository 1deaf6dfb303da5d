variable "receipts_bucket_name" {
  description = "Name of the receipts bucket (the app's AWS_S3_BUCKET)."
  type        = string
}

variable "backups_bucket_name" {
  description = "Name of the database backups bucket (the app's BACKUP_S3_BUCKET)."
  type        = string
}

variable "receipts_retention_days" {
  description = "Days after which receipts expire (7 years by default)."
  type        = number
  default     = 2557
}

variable "backups_retention_days" {
  description = "Days after which any backup object expires, a backstop to the app's own pruning; old receipt versions, which backups pin, are kept as long."
  type        = number
  default     = 400

  validation {
    # backup prune keeps 12 monthly backups by default (BACKUP_KEEP_MONTHLY).
    condition     = var.backups_retention_days >= 366
    error_message = "Backups must outlive the 12 monthly backups backup prune keeps (>= 366 days)."
  }
}

variable "kms_key_alias" {
  description = "Alias of the buckets' KMS key (alias/...), or null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
