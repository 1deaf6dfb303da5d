output "receipts_bucket_name" {
  description = "Receipts bucket name (AWS_S3_BUCKET)."
  value       = aws_s3_bucket.this["receipts"].bucket
}

output "receipts_bucket_arn" {
  description = "Receipts bucket ARN."
  value       = aws_s3_bucket.this["receipts"].arn
}

output "backups_bucket_name" {
  description = "Backups bucket name (BACKUP_S3_BUCKET)."
  value       = aws_s3_bucket.this["backups"].bucket
}

output "backups_bucket_arn" {
  description = "Backups bucket ARN."
  value       = aws_s3_bucket.this["backups"].arn
}

output "kms_key_arn" {
  description = "KMS key encrypting both buckets; the app role may use it."
  value       = aws_kms_key.buckets.arn
}

output "versioned_bucket_names" {
  description = "Both bucket names by role (receipts, backups), known once versioning is on: what S3 replication, which needs it, must wait for."
  value       = { for role, versioning in aws_s3_bucket_versioning.this : role => versioning.bucket }
}
