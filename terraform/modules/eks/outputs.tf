output "cluster_name" {
  description = "EKS cluster name (for aws eks update-kubeconfig)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider, used by IRSA roles."
  value       = module.eks.oidc_provider_arn
}

output "node_security_group_id" {
  description = "Security group shared by the nodes; RDS and Redis admit it."
  value       = module.eks.node_security_group_id
}
