locals {
  # A failover stack runs beside the lost primary's leftovers (IAM is global, S3 names are
  # too), so its names differ; its secrets keep the prefix the app is configured with.
  name           = var.failover == null ? "expense-wise-${var.environment}" : "expense-wise-${var.environment}-dr"
  secrets_prefix = "expense-wise/${var.environment}"
  replicate      = var.disaster_recovery_region != null && var.failover == null
  tags = {
    Project     = "expense-wise"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
  # Whatever runs the containers may reach PostgreSQL and Redis. Keys depend only on the
  # booleans, so the first plan on an empty account knows every for_each key even though
  # the group ids are unknown until apply.
  app_security_groups = merge(
    var.enable_eks ? { eks_nodes = module.eks[0].node_security_group_id } : {},
    var.enable_nomad ? { nomad_hosts = module.nomad_hosts[0].security_group_id } : {},
  )
}

# Generated credentials without the hashicorp/random provider: Terraform's uuid() draws from
# crypto/rand (two UUIDs: 244 random bits, hex, URL-safe). uuid() changes on every run, so
# each value only goes to write-only arguments, sent when credentials_version changes: the
# database password to RDS (password_wo) and into DATABASE_URL (secret_string_wo) in the
# same apply, the JWT secret and the Redis AUTH token into Secrets Manager. None of them is
# stored in the state by these resources.
locals {
  generated_credentials = {
    for name in ["database_password", "jwt_secret", "redis_auth_token"] :
    name => join("", [for _ in range(2) : replace(uuid(), "-", "")])
  }
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

  deploy_role_arn                 = module.deploy_runner.role_arn
  deploy_runner_security_group_id = module.deploy_runner.security_group_id
  worker_min_size                 = var.eks_worker_min_size
  tags                            = local.tags
}

module "rds" {
  source = "./modules/rds"

  name                    = local.name
  instance_class          = var.db_instance_class
  vpc_id                  = module.network.vpc_id
  db_subnet_group_name    = module.network.database_subnet_group_name
  allowed_security_groups = local.app_security_groups
  master_password         = local.generated_credentials.database_password
  master_password_version = var.credentials_version
  restore_from = var.failover == null ? null : {
    automated_backups_arn = var.failover_db_automated_backups_arn
    restore_time          = var.failover.restore_time
  }
  tags = local.tags
}

module "redis" {
  source = "./modules/redis"

  name                    = local.name
  node_type               = var.redis_node_type
  num_cache_clusters      = var.redis_num_cache_clusters
  vpc_id                  = module.network.vpc_id
  subnet_group_name       = module.network.elasticache_subnet_group_name
  allowed_security_groups = local.app_security_groups
  auth_token              = local.generated_credentials.redis_auth_token
  auth_token_version      = var.credentials_version
  tags                    = local.tags
}

module "buckets" {
  source = "./modules/buckets"
  count  = var.failover == null ? 1 : 0

  receipts_bucket_name = "${local.name}-receipts"
  backups_bucket_name  = "${local.name}-backups"
  tags                 = local.tags
}

moved {
  from = module.buckets
  to   = module.buckets[0]
}

# Failover: the lost primary's replicas and the keys of its DR region, found by name (its
# state is in the lost region).
data "aws_s3_bucket" "replica" {
  for_each = var.failover == null ? {} : {
    receipts = "${var.failover.primary_name}-dr-receipts"
    backups  = "${var.failover.primary_name}-dr-backups"
  }

  bucket = each.value
}

data "aws_kms_alias" "replica_buckets" {
  count = var.failover == null ? 0 : 1

  name = "alias/${var.failover.primary_name}-dr-buckets"
}

data "aws_kms_alias" "replicated_secrets" {
  count = var.failover == null ? 0 : 1

  name = "alias/${var.failover.primary_name}-dr"
}

locals {
  buckets = var.failover == null ? {
    receipts_name = module.buckets[0].receipts_bucket_name
    receipts_arn  = module.buckets[0].receipts_bucket_arn
    backups_name  = module.buckets[0].backups_bucket_name
    backups_arn   = module.buckets[0].backups_bucket_arn
    kms_key_arn   = module.buckets[0].kms_key_arn
    } : {
    receipts_name = data.aws_s3_bucket.replica["receipts"].bucket
    receipts_arn  = data.aws_s3_bucket.replica["receipts"].arn
    backups_name  = data.aws_s3_bucket.replica["backups"].bucket
    backups_arn   = data.aws_s3_bucket.replica["backups"].arn
    kms_key_arn   = data.aws_kms_alias.replica_buckets[0].target_key_arn
  }
}

module "disaster_recovery" {
  source = "./modules/disaster_recovery"
  count  = local.replicate ? 1 : 0
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  name = local.name
  # Names from the versioning resources: a replication rule is refused until the source
  # bucket is versioned.
  source_buckets = {
    receipts = { name = module.buckets[0].versioned_bucket_names["receipts"], arn = local.buckets.receipts_arn }
    backups  = { name = module.buckets[0].versioned_bucket_names["backups"], arn = local.buckets.backups_arn }
  }
  source_kms_key_arn = local.buckets.kms_key_arn
  db_instance_arn    = module.rds.arn
  tags               = local.tags
}

module "alarms" {
  source = "./modules/alarms"

  name                    = local.name
  subscriptions           = var.alarm_subscriptions
  db_instance_identifier  = module.rds.identifier
  redis_cache_cluster_ids = module.redis.member_cluster_ids
  load_balancer           = var.alarm_load_balancer
  s3_replication          = local.replicate ? module.disaster_recovery[0].replication_rules : {}
  tags                    = local.tags
}

module "secrets" {
  source = "./modules/secrets"

  prefix            = local.secrets_prefix
  database_username = module.rds.username
  database_password = local.generated_credentials.database_password
  database_address  = module.rds.address
  database_port     = module.rds.port
  database_name     = module.rds.database_name
  redis_url         = module.redis.redis_url
  jwt_secret        = local.generated_credentials.jwt_secret
  secrets_version   = var.credentials_version
  replica = local.replicate ? {
    region      = var.disaster_recovery_region
    kms_key_arn = module.disaster_recovery[0].kms_key_arn
  } : null
  adopt_replicated_secrets       = var.failover != null
  replicated_secrets_kms_key_arn = var.failover == null ? "" : data.aws_kms_alias.replicated_secrets[0].target_key_arn
  tags                           = local.tags
}

module "app_iam" {
  source = "./modules/app_iam"

  name                  = local.name
  receipts_bucket_arn   = local.buckets.receipts_arn
  backups_bucket_arn    = local.buckets.backups_arn
  buckets_kms_key_arn   = local.buckets.kms_key_arn
  secrets_prefix        = local.secrets_prefix
  secrets_kms_key_arn   = module.secrets.kms_key_arn
  enable_irsa           = var.enable_eks
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
  ami_id                = var.nomad_ami_id
  tags                  = local.tags

  api_client_security_groups = { deploy_runner = module.deploy_runner.security_group_id }
}

module "deploy_runner" {
  source = "./modules/deploy_runner"

  name                    = local.name
  vpc_id                  = module.network.vpc_id
  vpc_cidr                = module.network.vpc_cidr
  cluster_name            = local.name
  secrets_prefix          = local.secrets_prefix
  secrets_kms_key_arn     = module.secrets.kms_key_arn
  enable_nomad            = var.enable_nomad
  nomad_instance_arns     = try(module.nomad_hosts[0].instance_arns, [])
  ssm_transfer_bucket_arn = try(module.nomad_hosts[0].ssm_transfer_bucket_arn, "")
  tags                    = local.tags
}
