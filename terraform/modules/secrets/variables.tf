variable "prefix" {
  description = "Secret name prefix, e.g. expense-wise/production (the app's SECRETS_MANAGER_PREFIX)."
  type        = string
}

variable "database_url" {
  description = "DATABASE_URL from the rds module."
  type        = string
  sensitive   = true
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
