# The self-hosted GitHub Actions runner that deploys (label expense-wise-vpc) runs inside the
# VPC on an instance with this profile: the production EKS endpoint is private and the Nomad
# API is not on the internet, so a hosted runner could reach neither.
resource "aws_security_group" "runner" {
  #checkov:skip=CKV2_AWS_5:Attached to the runner instance, which operators launch outside Terraform (registering a runner needs a one-time GitHub token); see README.md.
  name_prefix = "${var.name}-deploy-runner-"
  description = "Deploy runner: reaches the EKS and Nomad APIs inside the VPC"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS: GitHub, image registries, AWS APIs, the EKS endpoint"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "nomad_api" {
  security_group_id = aws_security_group.runner.id
  description       = "Nomad HTTP API"
  cidr_ipv4         = var.vpc_cidr
  from_port         = 4646
  to_port           = 4646
  ip_protocol       = "tcp"
}

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "runner" {
  name               = "${var.name}-deploy-runner"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
  tags               = var.tags
}

# What deploy.yml, rollback.yml and restore.yml call: update-kubeconfig, the secrets the
# inventories look up (Nomad Variable, staging Secret), and SSM sessions to the Nomad hosts
# with the connection plugin's transfer bucket. Kubernetes rights come from the EKS access
# entry (eks module), not from IAM.
data "aws_iam_policy_document" "runner" {
  statement {
    sid       = "DescribeCluster"
    actions   = ["eks:DescribeCluster"]
    resources = ["arn:aws:eks:*:*:cluster/${var.cluster_name}"]
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

  dynamic "statement" {
    for_each = var.enable_nomad ? [1] : []
    content {
      sid       = "SsmSessions"
      actions   = ["ssm:StartSession"]
      resources = concat(var.nomad_instance_arns, ["arn:aws:ssm:*::document/AWS-StartSession"])
    }
  }

  dynamic "statement" {
    for_each = var.enable_nomad ? [1] : []
    content {
      sid       = "OwnSsmSessions"
      actions   = ["ssm:TerminateSession", "ssm:ResumeSession"]
      resources = ["arn:aws:ssm:*:*:session/$${aws:userid}-*"]
    }
  }

  dynamic "statement" {
    for_each = var.enable_nomad ? [1] : []
    content {
      sid       = "SsmTransferObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.ssm_transfer_bucket_arn}/*"]
    }
  }
}

resource "aws_iam_role_policy" "runner" {
  name   = "deploy"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}

# The runner instance is managed through Session Manager too (no SSH).
resource "aws_iam_role_policy_attachment" "runner_ssm" {
  role       = aws_iam_role.runner.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "runner" {
  name = "${var.name}-deploy-runner"
  role = aws_iam_role.runner.name
  tags = var.tags
}
