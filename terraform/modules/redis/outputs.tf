output "primary_endpoint" {
  description = "DNS name of the primary endpoint."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_url" {
  description = "rediss:// URL with the AUTH token for the app; stored in Secrets Manager."
  value       = "rediss://:${data.aws_secretsmanager_secret_version.auth.secret_string}@${aws_elasticache_replication_group.this.primary_endpoint_address}:${local.port}/0"
  sensitive   = true
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.redis.id
}

output "member_cluster_ids" {
  description = "Cache cluster of each node (<group>-001, -002, ...): the CacheClusterId of its CloudWatch metrics."
  value       = [for i in range(var.num_cache_clusters) : format("%s-%03d", aws_elasticache_replication_group.this.replication_group_id, i + 1)]
}
