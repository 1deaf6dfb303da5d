locals {
  # Values Terraform writes (write-only: they never reach the state); SMTP credentials are
  # put by an operator afterwards (aws secretsmanager put-secret-value).
  generated = {
    DATABASE_URL = "postgresql+psycopg://${var.database_username}:${var.database_password}@${var.database_address}:${var.database_port}/${var.database_name}?sslmode=require"
    REDIS_URL    = var.redis_url
    JWT_SECRET   = var.jwt_secret
  }
  generated_names   = ["DATABASE_URL", "REDIS_URL", "JWT_SECRET"]
  operator_supplied = ["SMTP_USER", "SMTP_PASSWORD"]
  # Adopting the promoted replicas of a failed region's secrets: only the endpoints change;
  # JWT_SECRET and the SMTP credentials stay as replicated.
  written = var.adopt_replicated_secrets ? ["DATABASE_URL", "REDIS_URL"] : local.generated_names
}

resource "aws_kms_key" "secrets" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root, delegating to IAM) is intended; access is granted by the IAM policies in app_iam and the AWS service integrations.
  count = var.adopt_replicated_secrets ? 0 : 1

  description         = "Expense-Wise ${var.prefix} secrets"
  enable_key_rotation = true
  tags                = var.tags
}

# One entry per variable, named <prefix>/<NAME>: the layout the app reads itself
# with SECRETS_MANAGER_PREFIX and the ExternalSecret maps into the Secret. With a replica
# region every entry also exists there, under the same name, encrypted with that region's
# key: the secrets a failover stack starts from.
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:DATABASE_URL and REDIS_URL embed credentials owned by the rds and redis modules and JWT_SECRET rotation logs every user out; rotation is a planned Terraform change (bump secrets_version) followed by a rolling restart, described in docs/deploy.md.
  for_each = toset(var.adopt_replicated_secrets ? [] : concat(local.generated_names, local.operator_supplied))

  name                    = "${var.prefix}/${each.key}"
  description             = "Expense-Wise ${each.key}"
  kms_key_id              = aws_kms_key.secrets[0].arn
  recovery_window_in_days = 30
  tags                    = var.tags

  dynamic "replica" {
    for_each = var.replica == null ? [] : [var.replica]

    content {
      region     = replica.value.region
      kms_key_id = replica.value.kms_key_arn
    }
  }
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each = toset(local.written)

  # By name when adopting: the promoted replicas are not in this state.
  secret_id                = var.adopt_replicated_secrets ? "${var.prefix}/${each.key}" : aws_secretsmanager_secret.this[each.key].id
  secret_string_wo         = local.generated[each.key]
  secret_string_wo_version = var.secrets_version
}

moved {
  from = aws_kms_key.secrets
  to   = aws_kms_key.secrets[0]
}
