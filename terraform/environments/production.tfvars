environment          = "production"
region               = "eu-west-1"
vpc_cidr             = "10.20.0.0/16"
single_nat_gateway   = false
enable_eks           = true
enable_nomad         = false
kubernetes_namespace = "expense-wise"

eks_general_min_size = 3
eks_worker_min_size  = 2

db_instance_class        = "db.m6g.large"
redis_node_type          = "cache.m6g.large"
redis_num_cache_clusters = 3

# Disaster recovery (docs/runbooks/disaster-recovery.md): receipts and backups replicated
# within 15 minutes, RDS automated backups and the secrets replicated, the failover stack's
# state bucket, all in this region.
disaster_recovery_region = "eu-central-1"

# Every CloudWatch alarm notifies this SNS topic's subscribers.
alarm_subscriptions = {
  oncall = { protocol = "email", endpoint = "oncall@expense-wise.example" }
}
