output "prefix" {
  description = "Secret name prefix (SECRETS_MANAGER_PREFIX)."
  value       = var.prefix
}

output "secret_arns" {
  description = "ARN of each secret by variable name (empty when adopting replicas)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "kms_key_arn" {
  description = "KMS key encrypting the secrets."
  value       = var.adopt_replicated_secrets ? var.replicated_secrets_kms_key_arn : aws_kms_key.secrets[0].arn
}
