locals {
  port = 6379
}

# ElastiCache AUTH tokens allow printable ASCII except a few characters; letters and
# digits keep the token URL-safe inside REDIS_URL.
resource "random_password" "auth" {
  length  = 64
  special = false
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

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from ${each.value}"
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
  auth_token                 = random_password.auth.result

  snapshot_retention_limit   = 7
  snapshot_window            = "00:00-01:00"
  maintenance_window         = "sun:04:00-sun:05:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  tags = var.tags
}
