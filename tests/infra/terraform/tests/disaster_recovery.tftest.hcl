# A second region for disaster recovery: what production replicates there, and the failover
# stack that starts from it. Under the mock provider nothing reaches AWS; `apply` gives the
# computed attributes fake values so the assertions can compare them.
mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "dr"
  source = "./tests/mocks"
}

variables {
  name = "expense-wise-test"
  source_buckets = {
    receipts = { name = "expense-wise-test-receipts", arn = "arn:aws:s3:::expense-wise-test-receipts" }
    backups  = { name = "expense-wise-test-backups", arn = "arn:aws:s3:::expense-wise-test-backups" }
  }
  source_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000001"
  db_instance_arn    = "arn:aws:rds:eu-west-1:123456789012:db:expense-wise-test"
}

run "replicates_buckets_backups_and_state_to_the_dr_region" {
  command = apply

  module {
    source = "./modules/disaster_recovery"
  }

  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  assert {
    condition     = toset(keys(aws_s3_bucket_replication_configuration.this)) == toset(["receipts", "backups"])
    error_message = "Both buckets replicate."
  }

  # The whole bucket (an empty filter), every version and delete marker, SSE-KMS objects
  # included, re-encrypted with the DR region's key, within 15 minutes with metrics on (the
  # replication alarms read those metrics).
  assert {
    condition = alltrue([
      for config in aws_s3_bucket_replication_configuration.this : alltrue([
        for rule in config.rule :
        rule.status == "Enabled" &&
        length(rule.filter) == 1 && try(rule.filter[0].prefix, null) == null &&
        length(rule.filter[0].and) == 0 && length(rule.filter[0].tag) == 0 &&
        rule.delete_marker_replication[0].status == "Enabled" &&
        rule.source_selection_criteria[0].sse_kms_encrypted_objects[0].status == "Enabled" &&
        rule.destination[0].encryption_configuration[0].replica_kms_key_id == output.replica_buckets_kms_key_arn &&
        rule.destination[0].replication_time[0].status == "Enabled" &&
        rule.destination[0].replication_time[0].time[0].minutes == 15 &&
        rule.destination[0].metrics[0].status == "Enabled" &&
        rule.destination[0].metrics[0].event_threshold[0].minutes == 15
      ])
    ])
    error_message = "Each rule replicates the whole bucket, delete markers and SSE-KMS objects, encrypted with the replicas' key, under Replication Time Control."
  }

  assert {
    condition = alltrue([
      for role, config in aws_s3_bucket_replication_configuration.this :
      config.bucket == var.source_buckets[role].name &&
      config.rule[0].destination[0].bucket == "arn:aws:s3:::${output.replica_buckets[role]}" &&
      output.replication_rules[role].rule_id == config.rule[0].id &&
      output.replication_rules[role].destination_bucket == output.replica_buckets[role]
    ])
    error_message = "receipts replicate to the receipts replica, backups to the backups replica, under the rule ids the alarms watch."
  }

  assert {
    condition = (
      aws_db_instance_automated_backups_replication.this.source_db_instance_arn == var.db_instance_arn &&
      aws_db_instance_automated_backups_replication.this.kms_key_id == aws_kms_key.dr.arn &&
      aws_db_instance_automated_backups_replication.this.retention_period >= 7 &&
      output.db_automated_backups_arn == aws_db_instance_automated_backups_replication.this.id
    )
    error_message = "RDS replicates the instance's automated backups, encrypted with the DR key, for at least a week."
  }

  assert {
    condition = (
      aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled" &&
      one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == aws_kms_key.dr.arn &&
      aws_s3_bucket_public_access_block.state.restrict_public_buckets &&
      output.state_bucket == "expense-wise-test-dr-terraform-state"
    )
    error_message = "The failover stack's state bucket is versioned, encrypted with the DR key and private."
  }

  assert {
    condition     = aws_kms_alias.dr.name == "alias/expense-wise-test-dr" && aws_kms_key.dr.enable_key_rotation
    error_message = "The DR key is found by its alias (the failover stack cannot read the primary's state)."
  }
}

# The failover stack's database starts from the replicated automated backups.
run "failover_database_restores_the_replicated_backups" {
  command = plan

  module {
    source = "./modules/rds"
  }

  variables {
    vpc_id                  = "vpc-0123456789abcdef0"
    db_subnet_group_name    = "expense-wise-test-db"
    allowed_security_groups = { eks_nodes = "sg-0123456789abcdef0" }
    master_password         = "0123456789abcdef0123456789abcdef"
    restore_from = {
      automated_backups_arn = "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-test"
    }
  }

  assert {
    condition = (
      one(aws_db_instance.this.restore_to_point_in_time).source_db_instance_automated_backups_arn == "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-test" &&
      one(aws_db_instance.this.restore_to_point_in_time).use_latest_restorable_time
    )
    error_message = "A failover restores the replicated backups at their latest restorable time."
  }

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.deletion_protection && aws_db_instance.this.multi_az
    error_message = "The restored instance is as protected as the primary."
  }
}

run "primary_database_starts_empty" {
  command = plan

  module {
    source = "./modules/rds"
  }

  variables {
    vpc_id                  = "vpc-0123456789abcdef0"
    db_subnet_group_name    = "expense-wise-test-db"
    allowed_security_groups = {}
    master_password         = "0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = length(aws_db_instance.this.restore_to_point_in_time) == 0
    error_message = "Only a failover stack restores."
  }
}

run "secrets_replicate_to_the_dr_region" {
  command = plan

  module {
    source = "./modules/secrets"
  }

  variables {
    prefix            = "expense-wise/test"
    database_username = "expense_wise"
    database_password = "0123456789abcdef0123456789abcdef"
    database_address  = "db.example"
    database_port     = 5432
    database_name     = "expense_wise"
    redis_url         = "rediss://:token@redis.example:6379/0"
    jwt_secret        = "0123456789abcdef0123456789abcdef"
    replica = {
      region      = "eu-central-1"
      kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-00000000d0d0"
    }
  }

  assert {
    condition = length(aws_secretsmanager_secret.this) == 5 && alltrue([
      for secret in aws_secretsmanager_secret.this :
      length(secret.replica) == 1 && one(secret.replica).region == "eu-central-1" &&
      one(secret.replica).kms_key_id == "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-00000000d0d0"
    ])
    error_message = "Every secret, SMTP credentials and JWT secret included, has a replica in the DR region under the DR key."
  }
}

run "failover_adopts_the_promoted_secrets" {
  command = plan

  module {
    source = "./modules/secrets"
  }

  variables {
    prefix                         = "expense-wise/test"
    database_username              = "expense_wise"
    database_password              = "0123456789abcdef0123456789abcdef"
    database_address               = "db.example"
    database_port                  = 5432
    database_name                  = "expense_wise"
    redis_url                      = "rediss://:token@redis.example:6379/0"
    jwt_secret                     = "0123456789abcdef0123456789abcdef"
    adopt_replicated_secrets       = true
    replicated_secrets_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-00000000d0d0"
  }

  assert {
    condition     = length(aws_secretsmanager_secret.this) == 0 && length(aws_kms_key.secrets) == 0
    error_message = "The promoted replicas exist already: the failover stack creates no secret and no key."
  }

  assert {
    condition = (
      toset(keys(aws_secretsmanager_secret_version.generated)) == toset(["DATABASE_URL", "REDIS_URL"]) &&
      aws_secretsmanager_secret_version.generated["DATABASE_URL"].secret_id == "expense-wise/test/DATABASE_URL"
    )
    error_message = "Only the endpoints change (DATABASE_URL, REDIS_URL); JWT_SECRET and SMTP credentials stay as replicated."
  }
}
