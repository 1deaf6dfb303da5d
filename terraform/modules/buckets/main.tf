locals {
  buckets = {
    receipts = var.receipts_bucket_name
    backups  = var.backups_bucket_name
  }
}

resource "aws_kms_key" "buckets" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root, delegating to IAM) is intended; access is granted by the IAM policies in app_iam and the AWS service integrations.
  description         = "SSE-KMS for the receipts and backups buckets"
  enable_key_rotation = true
  tags                = var.tags
}

# A name to find the key by without this module's state (the DR region's failover stack
# looks up the replicas' key while the primary region, and its state, are unavailable).
resource "aws_kms_alias" "buckets" {
  count = var.kms_key_alias == null ? 0 : 1

  name          = var.kms_key_alias
  target_key_id = aws_kms_key.buckets.key_id
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV2_AWS_61:Both buckets have lifecycle rules (aws_s3_bucket_lifecycle_configuration.receipts/backups below); checkov cannot follow the for_each keys.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; uploads are processed through the app's own job queue.
  #checkov:skip=CKV_AWS_144:Cross-region replication is configured by modules/disaster_recovery where an environment has a DR region (production); the replicas this module also creates there are the end of the chain.
  #checkov:skip=CKV2_AWS_6:The public access block is aws_s3_bucket_public_access_block.this below; checkov loses the for_each link when the module is called with count (the root does), tests/infra/terraform/tests/buckets.tftest.hcl asserts it.
  #checkov:skip=CKV_AWS_145:SSE-KMS is aws_s3_bucket_server_side_encryption_configuration.this below (same checkov limitation; asserted by buckets.tftest.hcl).
  #checkov:skip=CKV_AWS_21:Versioning is aws_s3_bucket_versioning.this below (same checkov limitation; asserted by buckets.tftest.hcl).
  #checkov:skip=CKV_AWS_18:Object access is audited with CloudTrail S3 data events in the account trail; server access logs would need a third, unlogged bucket.
  for_each = local.buckets

  bucket = each.value
  tags   = merge(var.tags, { Purpose = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.buckets.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [each.value.arn, "${each.value.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Receipts: Glacier Instant Retrieval after 90 days (the API can still serve old
# receipts without a restore step), deleted after 7 years (record-keeping period).
resource "aws_s3_bucket_lifecycle_configuration" "receipts" {
  bucket = aws_s3_bucket.this["receipts"].id

  rule {
    id     = "archive-then-expire"
    status = "Enabled"
    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }

    expiration {
      days = var.receipts_retention_days
    }

    # Backups pin receipt versions (a deleted or replaced receipt is restored from its
    # version), and a monthly backup is kept up to backups_retention_days: the old versions
    # must live at least as long, or restoring an old backup loses its receipts.
    noncurrent_version_expiration {
      noncurrent_days = var.backups_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Backups: the app prunes to 7 daily / 4 weekly / 12 monthly; this lifecycle is the
# backstop (nothing older than ~13 months) and cleans up pruned versions.
resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.this["backups"].id

  rule {
    id     = "infrequent-access-then-expire"
    status = "Enabled"
    filter {}

    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }

    expiration {
      days = var.backups_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}
