# Consumed by the inventories (inventory/<env>/group_vars/all.yml) and the k8s
# overlays (ServiceAccount annotation, ConfigMap bucket names, NetworkPolicy CIDR).

output "vpc_cidr" {
  description = "VPC CIDR (k8s overlay NetworkPolicy allow-app-egress)."
  value       = module.network.vpc_cidr
}

output "eks_cluster_name" {
  description = "EKS cluster name for aws eks update-kubeconfig (null without EKS)."
  value       = one(module.eks[*].cluster_name)
}

output "app_irsa_role_arn" {
  description = "IRSA role ARN for the expense-wise ServiceAccount (expense_wise_k8s_irsa_role_arn)."
  value       = module.app_iam.irsa_role_arn
}

output "receipts_bucket" {
  description = "AWS_S3_BUCKET."
  value       = local.buckets.receipts_name
}

output "backups_bucket" {
  description = "BACKUP_S3_BUCKET."
  value       = local.buckets.backups_name
}

output "secrets_manager_prefix" {
  description = "SECRETS_MANAGER_PREFIX; entries <prefix>/DATABASE_URL etc."
  value       = module.secrets.prefix
}

output "rds_address" {
  description = "PostgreSQL endpoint."
  value       = module.rds.address
}

output "redis_primary_endpoint" {
  description = "Redis primary endpoint."
  value       = module.redis.primary_endpoint
}

output "nomad_server_ips" {
  description = "Private IPs for inventory group nomad_servers (empty without Nomad)."
  value       = try(module.nomad_hosts[0].server_private_ips, [])
}

output "nomad_client_ips" {
  description = "Private IPs for inventory group nomad_clients (empty without Nomad)."
  value       = try(module.nomad_hosts[0].client_private_ips, [])
}

output "nomad_instance_ids" {
  description = "Instance IDs by host name: ansible_aws_ssm_instance_id in inventory/<env>/hosts.yml."
  value       = try(module.nomad_hosts[0].instance_ids, {})
}

output "nomad_ssm_transfer_bucket" {
  description = "ansible_aws_ssm_bucket_name in inventory/<env>/hosts.yml (null without Nomad)."
  value       = try(module.nomad_hosts[0].ssm_transfer_bucket, null)
}

output "deploy_runner_instance_profile" {
  description = "Instance profile of the self-hosted CI runner inside the VPC."
  value       = module.deploy_runner.instance_profile_name
}

output "deploy_runner_security_group_id" {
  description = "Security group of the self-hosted CI runner inside the VPC."
  value       = module.deploy_runner.security_group_id
}

output "alarm_topic_arn" {
  description = "SNS topic of every CloudWatch alarm (subscribers: alarm_subscriptions)."
  value       = module.alarms.topic_arn
}

output "disaster_recovery" {
  description = "The DR region's replicas, state bucket and replicated automated backups (null without a DR region): what a failover starts from."
  value = local.replicate ? {
    region                   = var.disaster_recovery_region
    replica_buckets          = module.disaster_recovery[0].replica_buckets
    state_bucket             = module.disaster_recovery[0].state_bucket
    db_automated_backups_arn = module.disaster_recovery[0].db_automated_backups_arn
  } : null
}
