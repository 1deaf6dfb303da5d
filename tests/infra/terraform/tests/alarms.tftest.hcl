# CloudWatch alarms: RDS, ElastiCache, the load balancer and S3 replication, all into one
# encrypted SNS topic whose subscribers are variables.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                    = "expense-wise-test"
  db_instance_identifier  = "expense-wise-test"
  redis_cache_cluster_ids = ["expense-wise-test-001", "expense-wise-test-002"]
  subscriptions = {
    oncall = { protocol = "email", endpoint = "oncall@example.com" }
    pager  = { protocol = "https", endpoint = "https://events.pagerduty.example/integration/x/enqueue" }
  }
  load_balancer = {
    type                      = "application"
    arn_suffix                = "app/expense-wise/0123456789abcdef"
    target_group_arn_suffixes = { api = "targetgroup/expense-wise-api/0123456789abcdef" }
  }
  s3_replication = {
    receipts = { source_bucket = "expense-wise-test-receipts", destination_bucket = "expense-wise-test-dr-receipts", rule_id = "disaster-recovery" }
    backups  = { source_bucket = "expense-wise-test-backups", destination_bucket = "expense-wise-test-dr-backups", rule_id = "disaster-recovery" }
  }
}

run "every_alarm_notifies_the_topic" {
  command = apply

  module {
    source = "./modules/alarms"
  }

  assert {
    condition = alltrue([
      for alarm in concat(values(aws_cloudwatch_metric_alarm.this), aws_cloudwatch_metric_alarm.lb_5xx) :
      alarm.alarm_actions == toset([aws_sns_topic.alarms.arn]) && alarm.ok_actions == toset([aws_sns_topic.alarms.arn])
    ])
    error_message = "Every alarm, and its recovery, notifies the one topic."
  }

  assert {
    condition = (
      toset([for s in aws_sns_topic_subscription.this : "${s.protocol}:${s.endpoint}"]) ==
      toset(["email:oncall@example.com", "https:https://events.pagerduty.example/integration/x/enqueue"]) &&
      alltrue([for s in aws_sns_topic_subscription.this : s.topic_arn == aws_sns_topic.alarms.arn])
    )
    error_message = "The topic's subscribers are exactly the subscriptions variable."
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.alarms.arn && aws_kms_key.alarms.enable_key_rotation
    error_message = "The topic is encrypted with a key CloudWatch may use."
  }

  assert {
    condition = strcontains(aws_kms_key.alarms.policy, "cloudwatch.amazonaws.com") && strcontains(aws_kms_key.alarms.policy, "kms:GenerateDataKey*")
    error_message = "CloudWatch must be allowed to encrypt to the topic, or every notification is dropped."
  }

  # RDS: CPU, free storage, connections, and WAL archiving (backup) lag.
  assert {
    condition = toset([
      for alarm in aws_cloudwatch_metric_alarm.this : alarm.metric_name
      if alarm.namespace == "AWS/RDS" && lookup(alarm.dimensions, "DBInstanceIdentifier", "") == "expense-wise-test"
    ]) == toset(["CPUUtilization", "FreeStorageSpace", "DatabaseConnections", "TransactionLogsDiskUsage"])
    error_message = "RDS alarms on CPU, free storage, connections and backup (WAL archiving) lag."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["rds-free-storage"].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.this["rds-free-storage"].threshold == 10 * 1024 * 1024 * 1024
    )
    error_message = "Free storage alarms when it falls below the threshold, in bytes."
  }

  # ElastiCache: memory, evictions and CPU on every node.
  assert {
    condition = alltrue([
      for node in var.redis_cache_cluster_ids :
      toset([
        for alarm in aws_cloudwatch_metric_alarm.this : alarm.metric_name
        if alarm.namespace == "AWS/ElastiCache" && lookup(alarm.dimensions, "CacheClusterId", "") == node
      ]) == toset(["DatabaseMemoryUsagePercentage", "Evictions", "EngineCPUUtilization"])
    ])
    error_message = "Each Redis node alarms on memory, evictions and engine CPU."
  }

  # Load balancer: target health per target group and the 5xx share.
  assert {
    condition = toset([
      for alarm in aws_cloudwatch_metric_alarm.this : alarm.metric_name
      if alarm.namespace == "AWS/ApplicationELB" && lookup(alarm.dimensions, "TargetGroup", "") == "targetgroup/expense-wise-api/0123456789abcdef"
    ]) == toset(["UnHealthyHostCount", "HealthyHostCount"])
    error_message = "The API's target group alarms on unhealthy targets and on having none healthy."
  }

  assert {
    condition = length(aws_cloudwatch_metric_alarm.lb_5xx) == 1 && toset([
      for query in aws_cloudwatch_metric_alarm.lb_5xx[0].metric_query : query.metric[0].metric_name if length(query.metric) > 0
    ]) == toset(["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "RequestCount"])
    error_message = "The 5xx alarm divides the load balancer's and the targets' 5xx by all requests."
  }

  # S3 replication: failures and latency beyond the 15-minute RPO, per replicated bucket.
  assert {
    condition = alltrue([
      for role, replication in var.s3_replication :
      toset([
        for alarm in aws_cloudwatch_metric_alarm.this : alarm.metric_name
        if alarm.namespace == "AWS/S3" && lookup(alarm.dimensions, "SourceBucket", "") == replication.source_bucket &&
        lookup(alarm.dimensions, "DestinationBucket", "") == replication.destination_bucket && lookup(alarm.dimensions, "RuleId", "") == replication.rule_id
      ]) == toset(["OperationsFailedReplication", "ReplicationLatency"])
    ])
    error_message = "Each replicated bucket alarms on failed replication and on latency."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["s3-replication-latency-receipts"].threshold == 900
    error_message = "Replication latency alarms past the 15-minute RPO."
  }
}

# Behind a network load balancer (ingress-nginx's) CloudWatch sees no HTTP status: target
# health only; and no replication alarms without a DR region.
run "network_load_balancer_without_dr" {
  command = apply

  module {
    source = "./modules/alarms"
  }

  variables {
    load_balancer = {
      type                      = "network"
      arn_suffix                = "net/ingress-nginx/0123456789abcdef"
      target_group_arn_suffixes = { https = "targetgroup/k8s-ingress-https/0123456789abcdef" }
    }
    s3_replication = {}
  }

  assert {
    condition = length(aws_cloudwatch_metric_alarm.lb_5xx) == 0 && toset([
      for alarm in aws_cloudwatch_metric_alarm.this : alarm.metric_name if alarm.namespace == "AWS/NetworkELB"
    ]) == toset(["UnHealthyHostCount", "HealthyHostCount"])
    error_message = "A network load balancer gets target health alarms and no 5xx alarm."
  }

  assert {
    condition     = length([for alarm in aws_cloudwatch_metric_alarm.this : alarm if alarm.namespace == "AWS/S3"]) == 0
    error_message = "No replication alarms without replication."
  }
}
