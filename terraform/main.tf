locals {
  name           = "expense-wise-${var.environment}"
  secrets_prefix = "expense-wise/${var.environment}"
  tags = {
    Project     = "expense-wise"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
  # Whatever runs the containers may reach PostgreSQL and Redis.
  app_security_group_ids = concat(
    var.enable_eks ? [module.eks[0].node_security_group_id] : [],
    var.enable_nomad ? [module.nomad_hosts[0].security_group_id] : [],
  )
}

module "network" {
  source = "./modules/network"

  name               = local.name
  cidr               = var.vpc_cidr
  single_nat_gateway = var.single_nat_gateway
  tags               = local.tags
}

module "eks" {
  source = "./modules/eks"
  count  = var.enable_eks ? 1 : 0

  name                = local.name
  kubernetes_version  = var.kubernetes_version
  vpc_id              = module.network.vpc_id
  private_subnet_ids  = module.network.private_subnet_ids
  public_access_cidrs = var.eks_public_access_cidrs
  general_min_size    = var.eks_general_min_size
  worker_min_size     = var.eks_worker_min_size
  tags                = local.tags
}

module "rds" {
  source = "./modules/rds"

  name                       = local.name
  instance_class             = var.db_instance_class
  vpc_id                     = module.network.vpc_id
  db_subnet_group_name       = module.network.database_subnet_group_name
  allowed_security_group_ids = local.app_security_group_ids
  tags                       = local.tags
}

module "redis" {
  source = "./modules/redis"

  name                       = local.name
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_cache_clusters
  vpc_id                     = module.network.vpc_id
  subnet_group_name          = module.network.elasticache_subnet_group_name
  allowed_security_group_ids = local.app_security_group_ids
  tags                       = local.tags
}

module "buckets" {
  source = "./modules/buckets"

  receipts_bucket_name = "${local.name}-receipts"
  backups_bucket_name  = "${local.name}-backups"
  tags                 = local.tags
}

module "secrets" {
  source = "./modules/secrets"

  prefix       = local.secrets_prefix
  database_url = module.rds.database_url
  redis_url    = module.redis.redis_url
  tags         = local.tags
}

module "app_iam" {
  source = "./modules/app_iam"

  name                  = local.name
  receipts_bucket_arn   = module.buckets.receipts_bucket_arn
  backups_bucket_arn    = module.buckets.backups_bucket_arn
  buckets_kms_key_arn   = module.buckets.kms_key_arn
  secrets_prefix        = local.secrets_prefix
  secrets_kms_key_arn   = module.secrets.kms_key_arn
  oidc_provider_arn     = var.enable_eks ? module.eks[0].oidc_provider_arn : ""
  kubernetes_namespaces = [var.kubernetes_namespace]
  tags                  = local.tags
}

module "nomad_hosts" {
  source = "./modules/nomad_hosts"
  count  = var.enable_nomad ? 1 : 0

  name                  = local.name
  vpc_id                = module.network.vpc_id
  vpc_cidr              = module.network.vpc_cidr
  private_subnet_ids    = module.network.private_subnet_ids
  instance_profile_name = module.app_iam.nomad_instance_profile_name
  server_count          = var.nomad_server_count
  client_count          = var.nomad_client_count
  tags                  = local.tags
}
