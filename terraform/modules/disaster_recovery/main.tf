locals {
  replicas = {
    receipts = "${var.name}-dr-receipts"
    backups  = "${var.name}-dr-backups"
  }
  # One rule per bucket; the id is the RuleId dimension of the replication metrics.
  rule_id = "disaster-recovery"
  # Replication Time Control's only setting: 99.99% of objects within 15 minutes, the RPO
  # of the AWS path; also the threshold of the replication metrics.
  replication_minutes = 15
}

# DR region: a key for the replicated RDS backups, the secrets' replicas and the DR state,
# found by its alias while the primary region (and its Terraform state) is unavailable.
resource "aws_kms_key" "dr" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root, delegating to IAM) is intended; RDS, Secrets Manager and S3 use it through their service integrations.
  provider = aws.dr

  description         = "${var.name} disaster recovery: replicated RDS backups, secrets and Terraform state"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_kms_alias" "dr" {
  provider = aws.dr

  name          = "alias/${var.name}-dr"
  target_key_id = aws_kms_key.dr.key_id
}

# The replicas: the same module as the primary's buckets (private, versioned, SSE-KMS with
# a key of the DR region, TLS only, the same lifecycle), in the DR region.
module "replica_buckets" {
  source = "../buckets"
  providers = {
    aws = aws.dr
  }

  receipts_bucket_name = local.replicas.receipts
  backups_bucket_name  = local.replicas.backups
  kms_key_alias        = "alias/${var.name}-dr-buckets"
  tags                 = var.tags
}

# RDS copies the instance's snapshots and transaction logs to the DR region: point-in-time
# restore there, to within minutes of the failure.
resource "aws_db_instance_automated_backups_replication" "this" {
  provider = aws.dr

  source_db_instance_arn = var.db_instance_arn
  kms_key_id             = aws_kms_key.dr.arn
  retention_period       = var.db_backup_retention_days
}

# S3 replication: every new object version and delete marker, within 15 minutes (Replication
# Time Control), re-encrypted with the DR region's key. Version ids are kept, so the receipt
# versions a backup manifest pins exist in the replica under the same ids.
data "aws_partition" "current" {}

data "aws_iam_policy_document" "replication_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  name_prefix        = "${var.name}-s3-dr-"
  assume_role_policy = data.aws_iam_policy_document.replication_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "replication" {
  statement {
    sid       = "ReadReplicationConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for bucket in var.source_buckets : bucket.arn]
  }

  statement {
    sid = "ReadSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
    ]
    resources = [for bucket in var.source_buckets : "${bucket.arn}/*"]
  }

  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for role, name in local.replicas : "arn:${data.aws_partition.current.partition}:s3:::${name}/*"]
  }

  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = [var.source_kms_key_arn]
  }

  statement {
    sid       = "EncryptReplicas"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [module.replica_buckets.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  name   = "replicate-to-dr"
  role   = aws_iam_role.replication.id
  policy = data.aws_iam_policy_document.replication.json
}

resource "aws_s3_bucket_replication_configuration" "this" {
  for_each = var.source_buckets

  bucket = each.value.name
  role   = aws_iam_role.replication.arn

  rule {
    id       = local.rule_id
    status   = "Enabled"
    priority = 1

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = "arn:${data.aws_partition.current.partition}:s3:::${local.replicas[each.key]}"
      storage_class = "STANDARD"

      encryption_configuration {
        replica_kms_key_id = module.replica_buckets.kms_key_arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = local.replication_minutes
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = local.replication_minutes
        }
      }
    }
  }

  # Replication needs versioning on the destination first.
  depends_on = [module.replica_buckets]
}

# The DR region's own Terraform state: the failover stack cannot keep its state in the
# primary region's state bucket (environments/<env>-dr.s3.tfbackend names this one).
resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access to the state is audited with CloudTrail S3 data events; server access logs would need another bucket in the DR region.
  #checkov:skip=CKV_AWS_144:This is the DR region's copy of nothing: the failover stack's state, written only when the primary region is lost.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the state bucket.
  provider = aws.dr

  bucket = "${var.name}-dr-terraform-state"
  tags   = merge(var.tags, { Purpose = "terraform-state" })
}

resource "aws_s3_bucket_public_access_block" "state" {
  provider = aws.dr

  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  provider = aws.dr

  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "state" {
  provider = aws.dr

  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  provider = aws.dr

  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.dr.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  provider = aws.dr

  bucket = aws_s3_bucket.state.id

  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

resource "aws_s3_bucket_policy" "state_tls_only" {
  provider = aws.dr

  bucket = aws_s3_bucket.state.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.state]
}
