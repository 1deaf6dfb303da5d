variable "name" {
  description = "Name prefix for the VPC and its resources, e.g. expense-wise-production."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block (a /16); the Kubernetes NetworkPolicy egress rule for PostgreSQL/Redis uses the same value."
  type        = string
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper, for staging) instead of one per AZ."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
