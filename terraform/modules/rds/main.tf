locals {
  port = 5432
}

resource "aws_kms_key" "rds" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root, delegating to IAM) is intended; access is granted by the IAM policies in app_iam and the AWS service integrations.
  description         = "${var.name} RDS storage and Performance Insights"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_security_group" "rds" {
  name_prefix = "${var.name}-rds-"
  description = "PostgreSQL for ${var.name}: only from the app's nodes and hosts"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by role (eks_nodes, nomad_hosts): the keys are known at plan time even on an empty
# account, where the group ids are not.
resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = var.allowed_security_groups

  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = local.port
  to_port                      = local.port
  ip_protocol                  = "tcp"
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg15-"
  family      = "postgres15"
  description = "TLS only, slow-query and DDL logging"
  tags        = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role" "monitoring" {
  name_prefix = "${var.name}-rds-mon-"
  tags        = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name  = var.database_name
  username = var.master_username
  # Write-only: sent to RDS when the version changes, never stored in the state. The same
  # value goes into DATABASE_URL in Secrets Manager (secrets module) in the same apply.
  password_wo         = var.master_password
  password_wo_version = var.master_password_version
  port                = local.port

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.rds.arn

  multi_az               = true
  db_subnet_group_name   = var.db_subnet_group_name
  vpc_security_group_ids = [aws_security_group.rds.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name

  # 30 days of automated backups gives point-in-time recovery over that window.
  backup_retention_period   = 30
  backup_window             = "01:00-01:45"
  maintenance_window        = "sun:03:00-sun:04:00"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  # Only the major version is pinned: AWS applies minor upgrades in the maintenance window
  # and Terraform does not try to undo them.
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.monitoring.arn

  # Failover stack in the DR region: start from the primary's replicated automated backups
  # at their latest restorable time (or restore_time), not from an empty database.
  dynamic "restore_to_point_in_time" {
    for_each = var.restore_from == null ? [] : [var.restore_from]

    content {
      source_db_instance_automated_backups_arn = restore_to_point_in_time.value.automated_backups_arn
      restore_time                             = restore_to_point_in_time.value.restore_time
      use_latest_restorable_time               = restore_to_point_in_time.value.restore_time == null
    }
  }

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.rds.arn
  performance_insights_retention_period = 7

  tags = var.tags
}
