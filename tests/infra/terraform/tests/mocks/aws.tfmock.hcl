# Values for the data sources the configuration reads; every resource attribute Terraform
# would learn from AWS stays unknown at plan time, as on an empty account.
mock_data "aws_availability_zones" {
  defaults = {
    names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  }
}

mock_data "aws_region" {
  defaults = {
    name = "eu-west-1"
  }
}

# Policy documents are rendered by the real provider in tests/infra/test_iam.py; here any
# valid document will do.
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_data "aws_ami" {
  defaults = {
    id = "ami-0aaaaaaaaaaaaaaa1"
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

# The failover stack finds the lost primary's replicas and DR keys by name.
mock_data "aws_s3_bucket" {
  defaults = {
    arn = "arn:aws:s3:::expense-wise-production-dr-replica"
  }
}

mock_data "aws_kms_alias" {
  defaults = {
    target_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-00000000d0d0"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

# Arguments the provider checks are ARNs (replication destinations and keys) need
# ARN-shaped fake values when a test applies.
mock_resource "aws_kms_key" {
  defaults = {
    arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-00000000beef"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mock"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:eu-west-1:123456789012:mock-alarms"
  }
}
