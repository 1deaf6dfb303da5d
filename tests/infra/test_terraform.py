"""terraform/ with the real tool: init, validate, and `terraform test` plans.

The test root is terraform/ itself, copied to a scratch directory with `eks_override.tf`
swapping the EKS module for tests/infra/terraform/eks_stand_in (see terraform_harness). The
plan-level checks are `.tftest.hcl` files under tests/infra/terraform/tests, one per concern;
add a file there to add a check. Files in tests/environments/ run once per environment with
that environment's tfvars; the others load one module each (`run { module { ... } }`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra_helpers import REPO
from terraform_harness import Terraform, copy_module, copy_root, offline_terraform

pytestmark = pytest.mark.infra

# Each environment's tfvars; production-dr is production failed over to its DR region.
ENVIRONMENTS = {
    "staging": ["-var-file=environments/staging.tfvars"],
    "production": ["-var-file=environments/production.tfvars"],
    "production-dr": [
        "-var-file=environments/production.tfvars",
        "-var-file=environments/production-dr.tfvars",
        "-var=failover_db_automated_backups_arn="
        "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-0123456789abcdef",
    ],
}
# eks wraps terraform-aws-modules/eks, which needs providers no machine here can install.
MODULES = sorted(
    p.name for p in (REPO / "terraform" / "modules").iterdir() if p.is_dir() and p.name != "eks"
)


@pytest.fixture(scope="module")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terraform]:
    with offline_terraform(tmp_path_factory.mktemp("terraform")) as tool:
        yield tool


@pytest.fixture(scope="module")
def root(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = copy_root(tmp_path_factory.mktemp("root"))
    terraform.init(copy)
    return copy


@pytest.mark.parametrize("module", MODULES)
def test_module_initialises_and_validates(
    terraform: Terraform, tmp_path: Path, module: str
) -> None:
    copy = copy_module(module, tmp_path)
    # A module that takes aliased providers (configuration_aliases) gets them from its
    # caller; standing alone it needs empty configurations of its own.
    versions = (copy / "versions.tf").read_text()
    for aliases in re.findall(r"configuration_aliases\s*=\s*\[([^\]]*)\]", versions):
        blocks = [
            f'provider "{ref.split(".")[0]}" {{\n  alias = "{ref.split(".")[1]}"\n}}\n'
            for ref in re.findall(r"[\w-]+\.[\w-]+", aliases)
        ]
        (copy / "standalone_providers.tf").write_text("".join(blocks))
    terraform.init(copy)
    terraform.run(copy, "validate", "-no-color")


def test_root_validates_with_the_registry_vpc_module(terraform: Terraform, root: Path) -> None:
    # The copied test files are checked by running them (below); validating them here would
    # ask each one for a mock of every provider configuration the root has (aws.dr too).
    terraform.run(root, "validate", "-no-color", "-no-tests")
    assert (root / ".terraform" / "modules" / "network.vpc" / "vpc-flow-logs.tf").is_file()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_plans_from_an_empty_account(
    terraform: Terraform, root: Path, environment: str
) -> None:
    output = terraform.run(
        root, "test", "-no-color", "-test-directory=tests/environments", *ENVIRONMENTS[environment]
    )
    assert "0 failed" in output and " passed" in output, output


def test_plan_level_properties(terraform: Terraform, root: Path) -> None:
    """Encryption, versioning, lifecycle >= backup retention, deletion protection, private
    endpoints, Nomad host reachability and AMI pinning (tests/infra/terraform/tests/)."""
    output = terraform.run(root, "test", "-no-color")
    assert "0 failed" in output and " passed" in output, output
