# EKS with two managed node groups: "general" for the API and cluster add-ons and
# "worker" (labelled expense-wise.io/node-role=worker) for the CPU-heavy OCR worker
# that the worker Deployment prefers. IRSA is enabled for the app's S3 access.
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.24"

  cluster_name    = var.name
  cluster_version = var.kubernetes_version

  vpc_id     = var.vpc_id
  subnet_ids = var.private_subnet_ids

  cluster_endpoint_public_access       = length(var.public_access_cidrs) > 0
  cluster_endpoint_public_access_cidrs = var.public_access_cidrs
  cluster_endpoint_private_access      = true

  enable_irsa                              = true
  enable_cluster_creator_admin_permissions = true

  # The CI deploy role gets Kubernetes rights through an access entry (API authentication
  # mode), and its runner inside the VPC reaches the private endpoint through the cluster
  # security group (see modules/deploy_runner).
  authentication_mode = "API_AND_CONFIG_MAP"
  access_entries = {
    deploy = {
      principal_arn = var.deploy_role_arn
      policy_associations = {
        # The deploy creates the namespace and cluster-wide objects (the Namespace itself), so a namespace-scoped policy is not enough.
        cluster_admin = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }
  cluster_security_group_additional_rules = {
    deploy_runner = {
      description              = "Kubernetes API from the deploy runner"
      type                     = "ingress"
      protocol                 = "tcp"
      from_port                = 443
      to_port                  = 443
      source_security_group_id = var.deploy_runner_security_group_id
    }
  }
  cluster_enabled_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  cluster_addons = {
    coredns                = {}
    kube-proxy             = {}
    vpc-cni                = { before_compute = true, configuration_values = jsonencode({ enableNetworkPolicy = "true" }) }
    eks-pod-identity-agent = {}
  }

  eks_managed_node_groups = {
    general = {
      instance_types = var.general_instance_types
      min_size       = var.general_min_size
      max_size       = var.general_max_size
      desired_size   = var.general_min_size
      labels         = { "expense-wise.io/node-role" = "general" }
    }
    worker = {
      instance_types = var.worker_instance_types
      min_size       = var.worker_min_size
      max_size       = var.worker_max_size
      desired_size   = var.worker_min_size
      labels         = { "expense-wise.io/node-role" = "worker" }
    }
  }

  tags = var.tags
}
