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
