output "irsa_role_arn" {
  description = "Role for the expense-wise ServiceAccount annotation eks.amazonaws.com/role-arn (empty without EKS)."
  value       = one(aws_iam_role.irsa[*].arn)
}

output "nomad_instance_profile_name" {
  description = "Instance profile for Nomad hosts."
  value       = aws_iam_instance_profile.nomad_host.name
}

output "policy_arn" {
  description = "The app's least-privilege policy."
  value       = aws_iam_policy.app.arn
}
