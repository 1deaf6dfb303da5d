# Failover of production to its disaster-recovery region. Only after declaring a disaster
# (docs/runbooks/disaster-recovery.md), on top of production.tfvars:
#   terraform -chdir=terraform init -reconfigure -backend-config=environments/production-dr.s3.tfbackend
#   terraform -chdir=terraform apply -var-file=environments/production.tfvars \
#     -var-file=environments/production-dr.tfvars -var failover_db_automated_backups_arn=<arn>
region                   = "eu-central-1"
disaster_recovery_region = null

# The replicas, the replicated backups and the promoted secrets of this stack.
failover = {
  primary_name = "expense-wise-production"
}
