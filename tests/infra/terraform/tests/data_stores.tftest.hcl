# PostgreSQL and Redis: encrypted, private, protected, recoverable.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name = "expense-wise-test"
  tags = {}
}

run "rds" {
  command = plan

  module {
    source = "./modules/rds"
  }

  variables {
    vpc_id                  = "vpc-0123456789abcdef0"
    db_subnet_group_name    = "expense-wise-test-db"
    allowed_security_groups = { eks_nodes = "sg-0123456789abcdef0" }
    master_password         = "0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.deletion_protection
    error_message = "RDS must be encrypted at rest and deletion-protected."
  }

  assert {
    condition     = !aws_db_instance.this.publicly_accessible && aws_db_instance.this.multi_az
    error_message = "RDS must be private and Multi-AZ."
  }

  assert {
    condition     = aws_db_instance.this.backup_retention_period >= 30 && !aws_db_instance.this.skip_final_snapshot
    error_message = "RDS keeps 30 days of PITR backups and a final snapshot."
  }

  assert {
    condition     = can(regex("^[0-9]+$", aws_db_instance.this.engine_version)) && aws_db_instance.this.auto_minor_version_upgrade
    error_message = "Pin the major engine version only when AWS applies minor upgrades."
  }

  assert {
    condition     = aws_db_instance.this.password == null
    error_message = "The master password is write-only (password_wo), never in the state."
  }
}

run "redis" {
  command = plan

  module {
    source = "./modules/redis"
  }

  variables {
    vpc_id                  = "vpc-0123456789abcdef0"
    subnet_group_name       = "expense-wise-test-cache"
    allowed_security_groups = { eks_nodes = "sg-0123456789abcdef0" }
    auth_token              = "0123456789abcdef0123456789abcdef"
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.at_rest_encryption_enabled == "true" &&
      aws_elasticache_replication_group.this.transit_encryption_enabled
    )
    error_message = "Redis must be encrypted at rest and in transit."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.multi_az_enabled
    error_message = "Redis fails over across AZs."
  }
}
