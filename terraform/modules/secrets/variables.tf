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

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
