locals {
  service_account_subjects = [for ns in var.kubernetes_namespaces : "system:serviceaccount:${ns}:${var.kubernetes_service_account}"]
  oidc_issuer              = var.enable_irsa ? element(split("oidc-provider/", var.oidc_provider_arn), 1) : ""
}

# Least privilege: what the code calls, in the two buckets, the buckets' KMS key, and the
# app's own Secrets Manager entries. No bucket-level administration. Each action is used:
#   GetObjectVersion      OCR job and receipt download by VersionId (storage.py); backup
#                         restore/verify of pinned receipt versions
#   GetBucketVersioning,  backup create pins every receipt's version (backup/receipts.py)
#   ListBucketVersions
#   AbortMultipartUpload  boto3's transfer manager aborts a failed multipart backup upload
data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ReceiptsObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.receipts_bucket_arn}/*"]
  }

  statement {
    sid = "BackupsObjects"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.backups_bucket_arn}/*"]
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning"]
    resources = [var.receipts_bucket_arn, var.backups_bucket_arn]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.buckets_kms_key_arn]
  }

  statement {
    sid       = "AppSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:aws:secretsmanager:*:*:secret:${var.secrets_prefix}/*"]
  }

  statement {
    sid       = "SecretsKey"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]
  }
}

resource "aws_iam_policy" "app" {
  name_prefix = "${var.name}-app-"
  description = "Expense-Wise application access to its buckets and secrets"
  policy      = data.aws_iam_policy_document.app.json
  tags        = var.tags
}

# EKS: IRSA role assumed by the expense-wise ServiceAccount.
# count follows a plain boolean: the OIDC provider ARN is unknown until the cluster exists,
# and a count derived from it fails the first plan on an empty account.
data "aws_iam_policy_document" "irsa_trust" {
  count = var.enable_irsa ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = local.service_account_subjects
    }
  }
}

resource "aws_iam_role" "irsa" {
  count = var.enable_irsa ? 1 : 0

  name               = "${var.name}-app"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "irsa" {
  count = var.enable_irsa ? 1 : 0

  role       = aws_iam_role.irsa[0].name
  policy_arn = aws_iam_policy.app.arn
}

# Nomad hosts: the containers use the instance profile through IMDSv2.
data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nomad_host" {
  name               = "${var.name}-nomad-host"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "nomad_host_app" {
  role       = aws_iam_role.nomad_host.name
  policy_arn = aws_iam_policy.app.arn
}

# Session Manager instead of SSH keys and open port 22.
resource "aws_iam_role_policy_attachment" "nomad_host_ssm" {
  role       = aws_iam_role.nomad_host.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "nomad_host" {
  name = "${var.name}-nomad-host"
  role = aws_iam_role.nomad_host.name
  tags = var.tags
}
