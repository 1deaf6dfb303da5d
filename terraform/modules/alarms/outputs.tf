output "topic_arn" {
  description = "SNS topic every alarm notifies (add subscribers with the subscriptions variable)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every CloudWatch alarm's name."
  value       = concat([for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name], aws_cloudwatch_metric_alarm.lb_5xx[*].alarm_name)
}
