output "server_private_ips" {
  description = "Private IPs of the Nomad servers (inventory group nomad_servers)."
  value       = [for k, h in aws_instance.this : h.private_ip if local.hosts[k].role == "server"]
}

output "client_private_ips" {
  description = "Private IPs of the Nomad clients (inventory group nomad_clients)."
  value       = [for k, h in aws_instance.this : h.private_ip if local.hosts[k].role == "client"]
}

output "instance_ids" {
  description = "Instance IDs by host name (for SSM sessions)."
  value       = { for k, h in aws_instance.this : k => h.id }
}

output "security_group_id" {
  description = "Security group of the hosts; RDS and Redis admit it."
  value       = aws_security_group.nomad.id
}

output "ssm_transfer_bucket" {
  description = "Bucket of the Ansible SSM connection (ansible_aws_ssm_bucket_name)."
  value       = aws_s3_bucket.ssm_transfer.id
}

output "ssm_transfer_bucket_arn" {
  description = "ARN of that bucket (the deploy runner may use it)."
  value       = aws_s3_bucket.ssm_transfer.arn
}

output "instance_arns" {
  description = "Instance ARNs (the deploy runner may start SSM sessions on them)."
  value       = [for h in aws_instance.this : h.arn]
}
