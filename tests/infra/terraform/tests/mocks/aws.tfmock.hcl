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
