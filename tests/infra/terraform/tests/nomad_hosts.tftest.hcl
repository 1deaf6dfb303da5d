# Nomad hosts: reachable for provisioning and deploys, and never all replaced at once.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                       = "expense-wise-test"
  vpc_id                     = "vpc-0123456789abcdef0"
  vpc_cidr                   = "10.30.0.0/16"
  private_subnet_ids         = ["subnet-a", "subnet-b", "subnet-c"]
  instance_profile_name      = "expense-wise-test-nomad-host"
  api_client_security_groups = { deploy_runner = "sg-0123456789abcdef0" }
}

run "first_apply" {
  command = apply

  module {
    source = "./modules/nomad_hosts"
  }

  override_data {
    target = data.aws_ami.ubuntu[0]
    values = { id = "ami-0000000000000first" }
  }

  assert {
    condition     = alltrue([for h in aws_instance.this : h.ami == "ami-0000000000000first"])
    error_message = "Hosts start on the looked-up AMI."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.http.from_port == 80
    error_message = "apt needs HTTP egress to the Ubuntu mirrors."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.api_from_runner["deploy_runner"].from_port == 4646
    error_message = "The deploy runner must reach the Nomad HTTP API."
  }

  assert {
    condition     = aws_s3_bucket.ssm_transfer.bucket_prefix != null
    error_message = "Ansible's SSM connection needs its transfer bucket."
  }
}

# Canonical publishes a newer image: the next plan must not replace the servers (all at
# once, losing the Raft state).
run "newer_ami_replaces_nothing" {
  command = plan

  module {
    source = "./modules/nomad_hosts"
  }

  override_data {
    target = data.aws_ami.ubuntu[0]
    values = { id = "ami-00000000000second" }
  }

  assert {
    condition     = alltrue([for h in aws_instance.this : h.ami == "ami-0000000000000first"])
    error_message = "A newer AMI must not replace running Nomad hosts."
  }
}
