output "replica_buckets" {
  description = "The replicas in the DR region by role (receipts, backups): AWS_S3_BUCKET and BACKUP_S3_BUCKET after a failover."
  value = {
    receipts = module.replica_buckets.receipts_bucket_name
    backups  = module.replica_buckets.backups_bucket_name
  }
}

output "replica_buckets_kms_key_arn" {
  description = "KMS key of the replicas (alias/<name>-dr-buckets)."
  value       = module.replica_buckets.kms_key_arn
}

output "kms_key_arn" {
  description = "DR key of the replicated RDS backups, the secrets' replicas and the DR state (alias/<name>-dr)."
  value       = aws_kms_key.dr.arn
}

output "db_automated_backups_arn" {
  description = "ARN of the replicated automated backups in the DR region: the failover stack restores from it."
  value       = aws_db_instance_automated_backups_replication.this.id
}

output "state_bucket" {
  description = "State bucket of the failover stack (environments/<env>-dr.s3.tfbackend)."
  value       = aws_s3_bucket.state.bucket
}

output "replication_rules" {
  description = "Each replicated bucket's source, destination and rule id: the dimensions of its S3 replication metrics."
  value = {
    for role, bucket in var.source_buckets : role => {
      source_bucket      = bucket.name
      destination_bucket = local.replicas[role]
      rule_id            = local.rule_id
    }
  }
}
