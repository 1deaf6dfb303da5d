# The root plans from an empty account for one environment's tfvars (run once per
# environment: terraform test -test-directory=tests/environments -var-file=...). Under the
# mock provider every attribute AWS would compute is unknown, so a count or for_each derived
# from one (an OIDC provider ARN, a security group id) fails here as on a real first plan.
mock_provider "aws" {
  source = "./tests/mocks"
}

run "plans_from_an_empty_account" {
  command = plan

  assert {
    condition     = var.environment != "production" || length(var.eks_public_access_cidrs) == 0
    error_message = "Production keeps the EKS API endpoint private; deploys run from the runner inside the VPC."
  }

  assert {
    condition     = output.secrets_manager_prefix == "expense-wise/${var.environment}"
    error_message = "SECRETS_MANAGER_PREFIX must be expense-wise/<environment>, as the inventories expect."
  }
}
