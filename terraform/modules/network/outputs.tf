output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = module.vpc.vpc_cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per AZ."
  value       = module.vpc.public_subnets
}

output "private_subnet_ids" {
  description = "Private subnet IDs for nodes and hosts, one per AZ."
  value       = module.vpc.private_subnets
}

output "database_subnet_group_name" {
  description = "DB subnet group for RDS."
  value       = module.vpc.database_subnet_group_name
}

output "elasticache_subnet_group_name" {
  description = "Subnet group for ElastiCache."
  value       = module.vpc.elasticache_subnet_group_name
}
