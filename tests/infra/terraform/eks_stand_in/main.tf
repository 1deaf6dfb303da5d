# Stands in for terraform/modules/eks in the test root: terraform-aws-modules/eks needs the
# hashicorp/tls and hashicorp/time providers, which cannot be installed on these machines.
# The same variables (variables.tf is a link to the real module's) and outputs; each output
# comes from a resource, so under mock_provider it is unknown at plan time exactly as the
# real module's are on an empty account.
resource "aws_security_group" "node" {
  name_prefix = "${var.name}-node-"
  description = "Stand-in for the EKS node security group"
  vpc_id      = var.vpc_id
}

resource "aws_iam_openid_connect_provider" "cluster" {
  url            = "https://oidc.eks.stand-in.example/id/${var.name}"
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  role_arn = "arn:aws:iam::000000000000:role/stand-in"
  version  = var.kubernetes_version

  access_config {
    authentication_mode = "API_AND_CONFIG_MAP"
  }

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = length(var.public_access_cidrs) > 0
    public_access_cidrs     = length(var.public_access_cidrs) > 0 ? var.public_access_cidrs : null
  }
}
