locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 3)
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first three zone names are used (slice in locals), so a zone added later does not change the subnets.
  state = "available"
}

# Three AZs; public subnets for load balancers and NAT, private for nodes and pods,
# and separate database/ElastiCache subnets that have no route to the internet.
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.13"

  name = var.name
  cidr = var.cidr
  azs  = local.azs

  public_subnets      = [for i in range(3) : cidrsubnet(var.cidr, 8, i)]
  private_subnets     = [for i in range(3) : cidrsubnet(var.cidr, 4, i + 1)]
  database_subnets    = [for i in range(3) : cidrsubnet(var.cidr, 8, i + 100)]
  elasticache_subnets = [for i in range(3) : cidrsubnet(var.cidr, 8, i + 110)]

  create_database_subnet_group    = true
  create_elasticache_subnet_group = true

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = 90

  # Tags the AWS Load Balancer Controller and Karpenter-style discovery rely on.
  public_subnet_tags = {
    "kubernetes.io/role/elb" = "1"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = "1"
  }

  tags = var.tags
}

# S3 traffic from private subnets stays on the AWS network and skips NAT charges.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = module.vpc.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = module.vpc.private_route_table_ids
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

data "aws_region" "current" {}
