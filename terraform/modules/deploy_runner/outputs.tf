output "role_arn" {
  description = "Role of the runner instance; the EKS access entry names it."
  value       = aws_iam_role.runner.arn
}

output "instance_profile_name" {
  description = "Instance profile to launch the runner with."
  value       = aws_iam_instance_profile.runner.name
}

output "security_group_id" {
  description = "Security group to launch the runner with; the EKS endpoint and the Nomad API admit it."
  value       = aws_security_group.runner.id
}
