terraform {
  # 1.11: write-only arguments, so generated passwords never reach the state.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: one state per environment, chosen at init time with
  #   terraform init -backend-config=environments/<env>.s3.tfbackend
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# The disaster-recovery region: replicas, replicated backups and the DR state live there.
# Without a DR region it is the primary region again and nothing uses it.
provider "aws" {
  alias  = "dr"
  region = coalesce(var.disaster_recovery_region, var.region)

  default_tags {
    tags = local.tags
  }
}
