locals {
  gib     = 1024 * 1024 * 1024
  actions = [aws_sns_topic.alarms.arn]

  rds_dimensions = { DBInstanceIdentifier = var.db_instance_identifier }
  rds = {
    "rds-cpu" = {
      namespace   = "AWS/RDS", metric = "CPUUtilization", statistic = "Average", dimensions = local.rds_dimensions
      comparison  = "GreaterThanThreshold", threshold = 80, period = 300, periods = 3, missing = "breaching"
      description = "PostgreSQL CPU above 80% for 15 minutes (or no data: the instance is down)."
    }
    "rds-free-storage" = {
      namespace   = "AWS/RDS", metric = "FreeStorageSpace", statistic = "Minimum", dimensions = local.rds_dimensions
      comparison  = "LessThanThreshold", threshold = var.db_free_storage_gib * local.gib, period = 300, periods = 2, missing = "missing"
      description = "PostgreSQL free storage below ${var.db_free_storage_gib} GiB: storage autoscaling is at its ceiling or too slow."
    }
    "rds-connections" = {
      namespace   = "AWS/RDS", metric = "DatabaseConnections", statistic = "Maximum", dimensions = local.rds_dimensions
      comparison  = "GreaterThanThreshold", threshold = var.db_connections, period = 300, periods = 2, missing = "missing"
      description = "More than ${var.db_connections} PostgreSQL connections: pools of too many replicas, or leaked connections."
    }
    # RDS archives the write-ahead log to S3 for point-in-time recovery (and from there to
    # the DR region); log piling up on the instance means that archiving, so the backups'
    # recovery point, is falling behind.
    "rds-backup-lag" = {
      namespace   = "AWS/RDS", metric = "TransactionLogsDiskUsage", statistic = "Maximum", dimensions = local.rds_dimensions
      comparison  = "GreaterThanThreshold", threshold = var.db_transaction_logs_gib * local.gib, period = 300, periods = 3, missing = "missing"
      description = "Over ${var.db_transaction_logs_gib} GiB of write-ahead log kept on the instance for 15 minutes: WAL archiving (PITR, replicated backups) lags or a replication slot holds it."
    }
  }

  redis = merge([
    for node in var.redis_cache_cluster_ids : {
      "redis-memory-${node}" = {
        namespace   = "AWS/ElastiCache", metric = "DatabaseMemoryUsagePercentage", statistic = "Average", dimensions = { CacheClusterId = node }
        comparison  = "GreaterThanThreshold", threshold = 80, period = 300, periods = 2, missing = "missing"
        description = "Redis ${node} above 80% of its memory: evictions would drop queued jobs and rate-limit counters next."
      }
      "redis-evictions-${node}" = {
        namespace   = "AWS/ElastiCache", metric = "Evictions", statistic = "Sum", dimensions = { CacheClusterId = node }
        comparison  = "GreaterThanThreshold", threshold = 0, period = 300, periods = 1, missing = "notBreaching"
        description = "Redis ${node} evicted keys: queued jobs may be lost (the sweepers re-queue receipts and emails from the database)."
      }
      "redis-cpu-${node}" = {
        namespace   = "AWS/ElastiCache", metric = "EngineCPUUtilization", statistic = "Average", dimensions = { CacheClusterId = node }
        comparison  = "GreaterThanThreshold", threshold = 80, period = 300, periods = 3, missing = "missing"
        description = "Redis ${node} engine thread above 80% CPU for 15 minutes."
      }
    }
  ]...)

  lb_namespace = var.load_balancer == null ? "" : (var.load_balancer.type == "application" ? "AWS/ApplicationELB" : "AWS/NetworkELB")
  lb_targets = var.load_balancer == null ? {} : merge([
    for group, suffix in var.load_balancer.target_group_arn_suffixes : {
      "lb-unhealthy-targets-${group}" = {
        namespace   = local.lb_namespace, metric = "UnHealthyHostCount", statistic = "Maximum"
        dimensions  = { LoadBalancer = var.load_balancer.arn_suffix, TargetGroup = suffix }
        comparison  = "GreaterThanThreshold", threshold = 0, period = 60, periods = 5, missing = "notBreaching"
        description = "Targets of ${group} failing the load balancer's health check for 5 minutes."
      }
      "lb-no-healthy-targets-${group}" = {
        namespace   = local.lb_namespace, metric = "HealthyHostCount", statistic = "Minimum"
        dimensions  = { LoadBalancer = var.load_balancer.arn_suffix, TargetGroup = suffix }
        comparison  = "LessThanThreshold", threshold = 1, period = 60, periods = 2, missing = "breaching"
        description = "No healthy target in ${group}: the API is unreachable."
      }
    }
  ]...)

  s3 = merge([
    for role, replication in var.s3_replication : {
      "s3-replication-failed-${role}" = {
        namespace   = "AWS/S3", metric = "OperationsFailedReplication", statistic = "Sum"
        dimensions  = { SourceBucket = replication.source_bucket, DestinationBucket = replication.destination_bucket, RuleId = replication.rule_id }
        comparison  = "GreaterThanThreshold", threshold = 0, period = 300, periods = 1, missing = "notBreaching"
        description = "Objects of ${replication.source_bucket} failed to replicate to the DR region: they are missing from the replica."
      }
      "s3-replication-latency-${role}" = {
        namespace   = "AWS/S3", metric = "ReplicationLatency", statistic = "Maximum"
        dimensions  = { SourceBucket = replication.source_bucket, DestinationBucket = replication.destination_bucket, RuleId = replication.rule_id }
        comparison  = "GreaterThanThreshold", threshold = var.s3_replication_latency_seconds, period = 300, periods = 2, missing = "notBreaching"
        description = "Replication of ${replication.source_bucket} is more than ${var.s3_replication_latency_seconds} s behind: the DR region's copy misses the RPO."
      }
    }
  ]...)

  alarms = merge(local.rds, local.redis, local.lb_targets, local.s3)
}

data "aws_caller_identity" "current" {}

# CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key: a key of
# our own lets it.
resource "aws_kms_key" "alarms" {
  description         = "${var.name} alarm notifications"
  enable_key_rotation = true
  tags                = var.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchPublishes"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.subscriptions

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = each.value.period
  evaluation_periods  = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The share of 5xx answers, the load balancer's own and the targets', among all requests:
# an application load balancer only (a network load balancer sees no HTTP; behind it the
# ingress controller's and the API's metrics in Prometheus carry the 5xx rate).
resource "aws_cloudwatch_metric_alarm" "lb_5xx" {
  count = try(var.load_balancer.type, "") == "application" ? 1 : 0

  alarm_name          = "${var.name}-lb-5xx"
  alarm_description   = "More than ${var.lb_5xx_percent}% of requests answered 5xx at the load balancer for 10 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lb_5xx_percent
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "share"
    expression  = "100 * (FILL(elb, 0) + FILL(target, 0)) / requests"
    label       = "5xx share (%)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      elb      = "HTTPCode_ELB_5XX_Count"
      target   = "HTTPCode_Target_5XX_Count"
      requests = "RequestCount"
    }

    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = { LoadBalancer = var.load_balancer.arn_suffix }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}
