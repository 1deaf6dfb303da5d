# Receipts and backups: private, versioned, SSE-KMS, and receipt versions outlive backups.
mock_provider "aws" {
  source = "./tests/mocks"
}

run "buckets" {
  command = plan

  module {
    source = "./modules/buckets"
  }

  variables {
    receipts_bucket_name = "expense-wise-test-receipts"
    backups_bucket_name  = "expense-wise-test-backups"
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"])
    error_message = "Both buckets are versioned."
  }

  assert {
    condition = alltrue([
      for e in aws_s3_bucket_server_side_encryption_configuration.this :
      one(e.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    ])
    error_message = "Both buckets use SSE-KMS."
  }

  assert {
    condition = alltrue([
      for b in aws_s3_bucket_public_access_block.this :
      b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
    ])
    error_message = "Public access is blocked on both buckets."
  }

  # Backups pin receipt versions: a receipt deleted or replaced since a backup is restored
  # from its old version, so old versions must live as long as the oldest kept backup.
  assert {
    condition = (
      one(aws_s3_bucket_lifecycle_configuration.receipts.rule).noncurrent_version_expiration[0].noncurrent_days >=
      one(aws_s3_bucket_lifecycle_configuration.backups.rule).expiration[0].days
    )
    error_message = "Old receipt versions expire before the backups that pin them."
  }

  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.backups.rule).expiration[0].days >= 366
    error_message = "Backups must outlive the 12 monthly backups backup prune keeps."
  }
}
