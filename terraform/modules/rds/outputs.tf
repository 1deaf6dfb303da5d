output "address" {
  description = "DNS name of the primary endpoint."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "username" {
  description = "Master user name (the app's DATABASE_URL user)."
  value       = aws_db_instance.this.username
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_db_instance.this.db_name
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.rds.id
}

output "arn" {
  description = "ARN of the instance (source of automated-backup replication)."
  value       = aws_db_instance.this.arn
}

output "identifier" {
  description = "Instance identifier (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}
