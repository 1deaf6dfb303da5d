variable "name" {
  description = "Identifier of the DB instance and prefix of its companions."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL engine version (major 15)."
  type        = string
  default     = "15.8"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "expense_wise"
}

variable "master_username" {
  description = "Master user name; its generated password lands in Secrets Manager through DATABASE_URL."
  type        = string
  default     = "expense_wise"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "vpc_id" {
  description = "VPC of the instance."
  type        = string
}

variable "db_subnet_group_name" {
  description = "DB subnet group (isolated database subnets in three AZs)."
  type        = string
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (EKS nodes, Nomad hosts)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
