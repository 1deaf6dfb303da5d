output "prefix" {
  description = "Secret name prefix (SECRETS_MANAGER_PREFIX)."
  value       = var.prefix
}

output "secret_arns" {
  description = "ARN of each secret by variable name."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "kms_key_arn" {
  description = "KMS key encrypting the secrets."
  value       = aws_kms_key.secrets.arn
}
