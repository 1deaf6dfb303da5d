output "cluster_name" {
  description = "EKS cluster name (for aws eks update-kubeconfig)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider, used by IRSA roles."
  value       = aws_iam_openid_connect_provider.cluster.arn
}

output "node_security_group_id" {
  description = "Security group shared by the nodes; RDS and Redis admit it."
  value       = aws_security_group.node.id
}
