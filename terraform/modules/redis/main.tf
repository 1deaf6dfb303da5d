locals {
  port = 6379
}

# The AUTH token lives in Secrets Manager (<name>/redis-auth-token): written once as a
# write-only value, then read back for the replication group (ElastiCache has no write-only
# auth_token, so this one is in the state). Reading it back keeps later plans free of diffs.
resource "aws_secretsmanager_secret" "auth" {
  #checkov:skip=CKV2_AWS_57:Rotating an ElastiCache AUTH token needs the two-step SET/ROTATE update of the replication group; done as a planned change (bump auth_token_version), see docs/deploy.md.
  name                    = "${var.name}/redis-auth-token"
  description             = "AUTH token of the ${var.name} Redis replication group"
  kms_key_id              = aws_kms_key.redis.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id                = aws_secretsmanager_secret.auth.id
  secret_string_wo         = var.auth_token
  secret_string_wo_version = var.auth_token_version
}

data "aws_secretsmanager_secret_version" "auth" {
  secret_id  = aws_secretsmanager_secret.auth.id
  version_id = aws_secretsmanager_secret_version.auth.version_id
}

resource "aws_kms_key" "redis" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root, delegating to IAM) is intended; access is granted by the IAM policies in app_iam and the AWS service integrations.
  description         = "${var.name} ElastiCache at-rest encryption"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_security_group" "redis" {
  name_prefix = "${var.name}-redis-"
  description = "Redis for ${var.name}: only from the app's nodes and hosts"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by role (eks_nodes, nomad_hosts): the keys are known at plan time even on an empty
# account, where the group ids are not.
resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = var.allowed_security_groups

  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = local.port
  to_port                      = local.port
  ip_protocol                  = "tcp"
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "ARQ queue, rate limits and cache for ${var.name}"

  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.node_type
  parameter_group_name = "default.redis7"
  port                 = local.port

  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = var.subnet_group_name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.redis.arn
  transit_encryption_enabled = true
  auth_token                 = data.aws_secretsmanager_secret_version.auth.secret_string

  snapshot_retention_limit   = 7
  snapshot_window            = "00:00-01:00"
  maintenance_window         = "sun:04:00-sun:05:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  tags = var.tags
}
