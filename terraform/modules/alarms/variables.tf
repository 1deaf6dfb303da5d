variable "name" {
  description = "Name prefix, e.g. expense-wise-production."
  type        = string
}

variable "subscriptions" {
  description = "Who the alarm topic notifies, by a static name: protocol (email, https, sms, ...) and endpoint. Email subscribers confirm by mail."
  type = map(object({
    protocol = string
    endpoint = string
  }))
  default = {}
}

variable "db_instance_identifier" {
  description = "RDS instance (DBInstanceIdentifier)."
  type        = string
}

variable "db_free_storage_gib" {
  description = "Alarm when free storage stays below this (GiB); storage autoscaling should act before."
  type        = number
  default     = 10
}

variable "db_connections" {
  description = "Alarm above this many connections (size it below the instance class's max_connections)."
  type        = number
  default     = 400
}

variable "db_transaction_logs_gib" {
  description = "Alarm when write-ahead log kept on the instance exceeds this (GiB): archiving for point-in-time recovery, hence the backups, is lagging."
  type        = number
  default     = 5
}

variable "redis_cache_cluster_ids" {
  description = "ElastiCache nodes (CacheClusterId), one alarm set each."
  type        = list(string)
}

variable "load_balancer" {
  description = "The load balancer in front of the API (created by the ingress controller or outside Terraform): type application or network, its ARN suffix (app/<name>/<id> or net/<name>/<id>) and its target groups' ARN suffixes by a static name. null: no load balancer alarms yet."
  type = object({
    type                      = string
    arn_suffix                = string
    target_group_arn_suffixes = map(string)
  })
  default = null

  validation {
    condition     = var.load_balancer == null || contains(["application", "network"], try(var.load_balancer.type, ""))
    error_message = "load_balancer.type is application or network."
  }
}

variable "lb_5xx_percent" {
  description = "Alarm when more than this share of requests (percent) answer 5xx at an application load balancer."
  type        = number
  default     = 1
}

variable "s3_replication" {
  description = "Replicated buckets by a static name (receipts, backups): source_bucket, destination_bucket and rule_id, the dimensions of their replication metrics. Empty without a DR region."
  type = map(object({
    source_bucket      = string
    destination_bucket = string
    rule_id            = string
  }))
  default = {}
}

variable "s3_replication_latency_seconds" {
  description = "Alarm when replication falls this far behind (the AWS RPO: 15 minutes)."
  type        = number
  default     = 900
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
