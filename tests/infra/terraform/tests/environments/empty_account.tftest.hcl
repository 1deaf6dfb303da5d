# The root plans from an empty account for one environment's tfvars (run once per
# environment: terraform test -test-directory=tests/environments -var-file=...). Under the
# mock provider every attribute AWS would compute is unknown, so a count or for_each derived
# from one (an OIDC provider ARN, a security group id) fails here as on a real first plan.
mock_provider "aws" {
  source = "./tests/mocks"
}

# The disaster-recovery region's provider configuration.
mock_provider "aws" {
  alias  = "dr"
  source = "./tests/mocks"
}

run "plans_from_an_empty_account" {
  command = plan

  assert {
    condition     = var.environment != "production" || length(var.eks_public_access_cidrs) == 0
    error_message = "Production keeps the EKS API endpoint private; deploys run from the runner inside the VPC."
  }

  assert {
    condition     = output.secrets_manager_prefix == "expense-wise/${var.environment}"
    error_message = "SECRETS_MANAGER_PREFIX must be expense-wise/<environment>, as the inventories expect."
  }

  assert {
    condition     = var.environment != "production" || var.failover != null || try(output.disaster_recovery.region, "") == "eu-central-1"
    error_message = "Production replicates to its disaster-recovery region."
  }

  assert {
    condition     = var.environment == "production" || output.disaster_recovery == null
    error_message = "Only production pays for a DR region."
  }

  # RDS (4), two or three Redis nodes (3 each), and replication (2 per bucket) in production.
  assert {
    condition = length(module.alarms.alarm_names) == 4 + 3 * var.redis_num_cache_clusters + (
      var.disaster_recovery_region != null && var.failover == null ? 4 : 0
    )
    error_message = "Every data store has its CloudWatch alarms, and replication has its own where there is a DR region."
  }

  # The failover stack (production.tfvars + production-dr.tfvars) serves the replicas and
  # reads the promoted secrets under the same prefix, so the app's configuration keeps
  # SECRETS_MANAGER_PREFIX; it replicates nowhere itself.
  assert {
    condition = var.failover == null || (
      output.receipts_bucket == "expense-wise-production-dr-receipts" &&
      output.backups_bucket == "expense-wise-production-dr-backups" &&
      output.disaster_recovery == null && var.region == "eu-central-1"
    )
    error_message = "The failover stack runs in the DR region on the replicas of the lost primary."
  }
}
