variable "name" {
  description = "Name prefix of the hosts, e.g. expense-wise-production."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the hosts."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR, the only source allowed to reach allocation ports."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets; hosts are spread across them round-robin."
  type        = list(string)
}

variable "instance_profile_name" {
  description = "Instance profile giving the containers the app's IAM policy (app_iam module)."
  type        = string
}

variable "ami_id" {
  description = "AMI of new hosts; empty looks up the newest Ubuntu 24.04 once. Existing hosts keep theirs (ignore_changes)."
  type        = string
  default     = ""
}

variable "api_client_security_groups" {
  description = "Security groups allowed to the Nomad HTTP API (4646), by a static name (deploy_runner)."
  type        = map(string)
  default     = {}
}

variable "server_count" {
  description = "Number of Nomad servers (3 or 5 for quorum)."
  type        = number
  default     = 3
}

variable "client_count" {
  description = "Number of Nomad clients running the containers."
  type        = number
  default     = 3
}

variable "server_instance_type" {
  description = "Instance type of the servers."
  type        = string
  default     = "t3.small"
}

variable "client_instance_type" {
  description = "Instance type of the clients."
  type        = string
  default     = "c6i.xlarge"
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
