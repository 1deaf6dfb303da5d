environment          = "staging"
region               = "eu-west-1"
vpc_cidr             = "10.30.0.0/16"
single_nat_gateway   = true
enable_eks           = true
enable_nomad         = true
kubernetes_namespace = "expense-wise-staging"

eks_general_min_size = 2
eks_worker_min_size  = 1
nomad_server_count   = 3
nomad_client_count   = 2

db_instance_class        = "db.t4g.medium"
redis_node_type          = "cache.t4g.small"
redis_num_cache_clusters = 2

alarm_subscriptions = {
  team = { protocol = "email", endpoint = "platform@expense-wise.example" }
}
