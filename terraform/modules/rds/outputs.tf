output "address" {
  description = "DNS name of the primary endpoint."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_url" {
  description = "SQLAlchemy URL for the app (postgresql+psycopg, TLS required); stored in Secrets Manager."
  value       = "postgresql+psycopg://${var.master_username}:${random_password.master.result}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${var.database_name}?sslmode=require"
  sensitive   = true
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.rds.id
}
