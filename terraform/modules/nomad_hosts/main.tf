locals {
  hosts = merge(
    { for i in range(var.server_count) : "${var.name}-server-${i}" => { role = "server", index = i } },
    { for i in range(var.client_count) : "${var.name}-client-${i}" => { role = "client", index = i } },
  )
}

# The AMI is looked up only when ami_id is empty (first apply), and a host never follows a
# newer image by itself (ignore_changes below): replacing every server at once would lose
# the Raft state. Upgrade one host at a time, see README.md.
data "aws_ami" "ubuntu" {
  count = var.ami_id == "" ? 1 : 0

  most_recent = true
  owners      = ["099720109477"] # Canonical

  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
  }
}

resource "aws_security_group" "nomad" {
  name_prefix = "${var.name}-nomad-"
  description = "Nomad servers and clients"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Nomad HTTP/RPC/Serf between cluster members only.
resource "aws_vpc_security_group_ingress_rule" "cluster" {
  for_each = { http = 4646, rpc = 4647, serf_tcp = 4648 }

  security_group_id            = aws_security_group.nomad.id
  description                  = "Nomad ${each.key} within the cluster"
  referenced_security_group_id = aws_security_group.nomad.id
  from_port                    = each.value
  to_port                      = each.value
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "serf_udp" {
  security_group_id            = aws_security_group.nomad.id
  description                  = "Nomad serf (UDP) within the cluster"
  referenced_security_group_id = aws_security_group.nomad.id
  from_port                    = 4648
  to_port                      = 4648
  ip_protocol                  = "udp"
}

# Dynamic ports of the API allocations, reached by the load balancer inside the VPC.
resource "aws_vpc_security_group_ingress_rule" "dynamic_ports" {
  security_group_id = aws_security_group.nomad.id
  description       = "Nomad dynamic ports from inside the VPC"
  cidr_ipv4         = var.vpc_cidr
  from_port         = 20000
  to_port           = 32000
  ip_protocol       = "tcp"
}

# The deploy runner (inside the VPC) submits jobs through the Nomad HTTP API; ACLs apply.
resource "aws_vpc_security_group_ingress_rule" "api_from_runner" {
  for_each = var.api_client_security_groups

  security_group_id            = aws_security_group.nomad.id
  description                  = "Nomad HTTP API from ${each.key}"
  referenced_security_group_id = each.value
  from_port                    = 4646
  to_port                      = 4646
  ip_protocol                  = "tcp"
}

# Ubuntu's apt mirrors answer on HTTP (packages are signed); provisioning needs it.
resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.nomad.id
  description       = "HTTP to the Ubuntu apt mirrors"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

# Docker pulls, AWS APIs and SSM (443) and the SMTP relay (587); databases are inside the VPC.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.nomad.id
  description       = "HTTPS to registries and AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "smtp" {
  security_group_id = aws_security_group.nomad.id
  description       = "SMTP submission (STARTTLS)"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 587
  to_port           = 587
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.nomad.id
  description       = "Anything inside the VPC (PostgreSQL, Redis, Nomad, DNS)"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "-1"
}

resource "aws_instance" "this" {
  for_each = local.hosts

  ami                    = var.ami_id != "" ? var.ami_id : data.aws_ami.ubuntu[0].id
  instance_type          = each.value.role == "server" ? var.server_instance_type : var.client_instance_type
  subnet_id              = var.private_subnet_ids[each.value.index % length(var.private_subnet_ids)]
  vpc_security_group_ids = [aws_security_group.nomad.id]
  iam_instance_profile   = var.instance_profile_name
  ebs_optimized          = true
  monitoring             = true

  # IMDSv2 only; hop limit 2 so containers on the Docker bridge can reach the
  # instance profile credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = each.value.role == "server" ? 30 : 80
    encrypted   = true
  }

  tags = merge(var.tags, { Name = each.key, NomadRole = each.value.role })

  lifecycle {
    ignore_changes = [ami]
  }
}

# Ansible reaches the hosts through SSM Session Manager (connection community.aws.aws_ssm,
# no SSH ingress); the plugin moves files through this bucket with presigned URLs.
resource "aws_s3_bucket" "ssm_transfer" {
  #checkov:skip=CKV2_AWS_62:No consumer of bucket events; files live for one Ansible task.
  #checkov:skip=CKV_AWS_144:Transient Ansible task files; nothing to replicate.
  #checkov:skip=CKV_AWS_18:Transient Ansible task files; SSM sessions are logged by CloudTrail.
  #checkov:skip=CKV_AWS_21:Transient Ansible task files expire after a day; versions would only keep them longer.
  #checkov:skip=CKV_AWS_145:SSE-S3 is enough for files that expire after a day; the SSM plugin's presigned uploads do not send a KMS key.
  bucket_prefix = "${var.name}-ssm-"
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "ssm_transfer" {
  bucket                  = aws_s3_bucket.ssm_transfer.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "ssm_transfer" {
  bucket = aws_s3_bucket.ssm_transfer.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "ssm_transfer" {
  bucket = aws_s3_bucket.ssm_transfer.id

  rule {
    id     = "expire-transfers"
    status = "Enabled"
    filter {}

    expiration {
      days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
