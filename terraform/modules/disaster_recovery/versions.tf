terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
      # aws: the primary region (replication role and rules); aws.dr: the DR region.
      configuration_aliases = [aws.dr]
    }
  }
}
