variable "name" {
  description = "EKS cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane, e.g. \"1.30\"."
  type        = string
  default     = "1.30"
}

variable "vpc_id" {
  description = "VPC to run the cluster in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (one per AZ) for the control plane ENIs and the nodes."
  type        = list(string)
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint; empty keeps the endpoint private."
  type        = list(string)
  default     = []
}

variable "deploy_role_arn" {
  description = "IAM role of the CI deploy runner, given cluster access by an access entry."
  type        = string
}

variable "deploy_runner_security_group_id" {
  description = "Security group of the deploy runner, admitted to the private API endpoint (443)."
  type        = string
}

variable "general_instance_types" {
  description = "Instance types of the general node group (API, add-ons)."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "general_min_size" {
  description = "Minimum (and initial) size of the general node group."
  type        = number
  default     = 3
}

variable "general_max_size" {
  description = "Maximum size of the general node group."
  type        = number
  default     = 6
}

variable "worker_instance_types" {
  description = "Instance types of the worker node group (OCR)."
  type        = list(string)
  default     = ["c6i.xlarge"]
}

variable "worker_min_size" {
  description = "Minimum (and initial) size of the worker node group."
  type        = number
  default     = 2
}

variable "worker_max_size" {
  description = "Maximum size of the worker node group."
  type        = number
  default     = 6
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
