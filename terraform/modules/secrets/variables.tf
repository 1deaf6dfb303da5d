variable "prefix" {
  description = "Secret name prefix, e.g. expense-wise/production (the app's SECRETS_MANAGER_PREFIX)."
  type        = string
}

variable "database_username" {
  description = "User of DATABASE_URL (rds module)."
  type        = string
}

variable "database_password" {
  description = "Password of DATABASE_URL: the ephemeral value also given to RDS (password_wo)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "database_address" {
  description = "PostgreSQL host (rds module)."
  type        = string
}

variable "database_port" {
  description = "PostgreSQL port (rds module)."
  type        = number
}

variable "database_name" {
  description = "Database of DATABASE_URL (rds module)."
  type        = string
}

variable "jwt_secret" {
  description = "New JWT_SECRET (at least 32 characters), written when secrets_version changes."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "secrets_version" {
  description = "Bump (with the rds/redis versions) to write new DATABASE_URL, REDIS_URL and JWT_SECRET values."
  type        = number
  default     = 1
}

variable "redis_url" {
  description = "REDIS_URL from the redis module."
  type        = string
  sensitive   = true
}

variable "replica" {
  description = "Replicate every secret to this region, encrypted with this key there (disaster recovery); null for none."
  type = object({
    region      = string
    kms_key_arn = string
  })
  default = null
}

variable "adopt_replicated_secrets" {
  description = "Failover stack in the DR region: the secrets already exist there as promoted replicas (docs/runbooks/disaster-recovery.md); write only DATABASE_URL and REDIS_URL into them."
  type        = bool
  default     = false
}

variable "replicated_secrets_kms_key_arn" {
  description = "Key of the promoted replicas (used when adopt_replicated_secrets)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
