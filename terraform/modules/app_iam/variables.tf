variable "name" {
  description = "Name prefix, e.g. expense-wise-production."
  type        = string
}

variable "receipts_bucket_arn" {
  description = "ARN of the receipts bucket."
  type        = string
}

variable "backups_bucket_arn" {
  description = "ARN of the backups bucket."
  type        = string
}

variable "buckets_kms_key_arn" {
  description = "KMS key of both buckets."
  type        = string
}

variable "secrets_prefix" {
  description = "Secrets Manager name prefix the app may read, e.g. expense-wise/production."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key encrypting the app's secrets."
  type        = string
}

variable "enable_irsa" {
  description = "Create the IRSA role (EKS). A plain boolean, known at plan time."
  type        = bool
  default     = false
}

variable "oidc_provider_arn" {
  description = "EKS OIDC provider ARN trusted by the IRSA role (used when enable_irsa)."
  type        = string
  default     = ""
}

variable "kubernetes_namespaces" {
  description = "Namespaces whose ServiceAccount may assume the IRSA role."
  type        = list(string)
  default     = ["expense-wise"]
}

variable "kubernetes_service_account" {
  description = "Name of the app's ServiceAccount (k8s/base/serviceaccount.yaml)."
  type        = string
  default     = "expense-wise"
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
