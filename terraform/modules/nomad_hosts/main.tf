locals {
  hosts = merge(
    { for i in range(var.server_count) : "${var.name}-server-${i}" => { role = "server", index = i } },
    { for i in range(var.client_count) : "${var.name}-client-${i}" => { role = "client", index = i } },
  )
}

data "aws_ami" "ubuntu" {
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

# Docker pulls, AWS APIs (443) and the SMTP relay (587); databases are inside the VPC.
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

  ami                    = data.aws_ami.ubuntu.id
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
}
