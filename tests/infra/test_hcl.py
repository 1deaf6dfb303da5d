"""Every Nomad jobspec and Terraform file parses, and follows the house conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from infra_helpers import (
    REPO,
    hcl2,
    hcl_attr,
    hcl_block,
    hcl_blocks,
    load_hcl,
    nomad_files,
    terraform_files,
    yaml,
)

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
MODULES = sorted(p for p in (REPO / "terraform" / "modules").iterdir() if p.is_dir())


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("path", nomad_files(), ids=_rel)
def test_nomad_jobspec_parses_with_documented_variables(path: Path) -> None:
    spec = load_hcl(path)
    jobs = list(hcl_blocks(spec, "job"))
    assert len(jobs) == 1, "one job per file"
    variables = dict(hcl_blocks(spec, "variable"))
    for required in ("image", "image_tag", "datacenters"):
        assert required in variables, f"{path.name} lacks variable {required!r}"
    for name, body in variables.items():
        for attribute in ("description", "type", "default"):
            assert attribute in body, f"variable {name!r} in {path.name} lacks {attribute}"


def test_nomad_job_types() -> None:
    def job(name: str) -> dict:
        return next(hcl_blocks(load_hcl(REPO / "nomad" / name), "job"))[1]

    api = job("api.nomad.hcl")
    assert hcl_attr(api, "type") == "service"
    update = hcl_block(api, "update")
    assert hcl_attr(update, "canary") >= 1
    assert hcl_attr(update, "auto_promote") is True
    assert hcl_attr(update, "auto_revert") is True

    backup = job("backup.nomad.hcl")
    assert hcl_attr(backup, "type") == "batch"
    assert hcl_attr(hcl_block(backup, "periodic"), "prohibit_overlap") is True

    restore = job("restore.nomad.hcl")
    assert hcl_attr(restore, "type") == "batch"
    assert "backup_id" in hcl_attr(hcl_block(restore, "parameterized"), "meta_required")

    assert hcl_attr(job("migrate.nomad.hcl"), "type") == "batch"


@pytest.mark.parametrize("path", terraform_files(), ids=_rel)
def test_terraform_file_parses(path: Path) -> None:
    """Parses, and every top-level block of the text is in the result (a parser that
    silently dropped a block would pass a bare load)."""
    parsed = load_hcl(path)
    written = re.findall(
        r"^(resource|data|variable|output|module|locals|terraform|provider|moved|removed|check)\b",
        path.read_text(),
        flags=re.MULTILINE,
    )
    assert written, f"{_rel(path)} has no Terraform block"
    for kind in set(written):
        assert len(parsed.get(kind, [])) == written.count(kind), f"{_rel(path)}: {kind} blocks"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_terraform_module_layout(module: Path) -> None:
    for name in MODULE_FILES:
        assert (module / name).is_file(), f"{module.name} lacks {name}"
    for name, body in hcl_blocks(load_hcl(module / "variables.tf"), "variable"):
        assert hcl_attr(body, "type"), f"{module.name}: variable {name} has no type"
        assert hcl_attr(body, "description"), f"{module.name}: variable {name} has no description"
    for name, body in hcl_blocks(load_hcl(module / "outputs.tf"), "output"):
        assert hcl_attr(body, "description"), f"{module.name}: output {name} has no description"


def test_terraform_pins_providers_and_uses_s3_backend() -> None:
    terraform = hcl_block(load_hcl(REPO / "terraform" / "versions.tf"), "terraform")
    assert hcl_attr(terraform, "required_version")
    providers = hcl_block(terraform, "required_providers")
    # Only hashicorp/aws: no other provider can be installed from the offline mirror.
    assert set(providers) == {"aws"}
    assert hcl_attr(hcl_attr(providers, "aws"), "version").startswith("~>")
    assert "s3" in dict(hcl_blocks(terraform, "backend"))
    for env in ("staging", "production"):
        assert (REPO / "terraform" / "environments" / f"{env}.tfvars").is_file()
        backend = load_hcl(REPO / "terraform" / "environments" / f"{env}.s3.tfbackend")
        # DynamoDB locking is deprecated from Terraform 1.11; the S3 lock file replaces it.
        assert hcl_attr(backend, "use_lockfile") is True
        assert "dynamodb_table" not in backend
        assert hcl_attr(backend, "encrypt") is True


def test_eks_grants_the_deploy_role_and_admits_its_runner() -> None:
    """The real EKS module cannot be initialised here (tls/time providers), so its wiring is
    checked in the configuration: CI's deploy role has an access entry, and the runner
    inside the VPC is admitted to the private endpoint."""
    modules = dict(hcl_blocks(load_hcl(REPO / "terraform/modules/eks/main.tf"), "module"))
    eks = modules["eks"]
    entry = hcl_attr(eks, "access_entries")["deploy"]
    assert entry["principal_arn"] == "${var.deploy_role_arn}"
    (policy,) = entry["policy_associations"].values()
    assert policy["policy_arn"].endswith("/AmazonEKSClusterAdminPolicy")
    rule = hcl_attr(eks, "cluster_security_group_additional_rules")["deploy_runner"]
    assert (rule["type"], rule["from_port"], rule["to_port"]) == ("ingress", 443, 443)
    assert rule["source_security_group_id"] == "${var.deploy_runner_security_group_id}"
    root = dict(hcl_blocks(load_hcl(REPO / "terraform/main.tf"), "module"))
    assert hcl_attr(root["eks"], "deploy_role_arn") == "${module.deploy_runner.role_arn}"


def test_terraform_chdir_paths_in_the_repository_exist() -> None:
    """Every `terraform -chdir=DIR` a comment or document tells an operator to run names a
    directory holding a root module."""
    pattern = re.compile(r"terraform -chdir=([\w./-]+)")
    places = [*REPO.glob("k8s/**/*.yaml"), *REPO.glob("docs/**/*.md"), REPO / "README.md"]
    places += [*REPO.glob("inventory/**/*.yml"), *REPO.glob("terraform/**/*.md")]
    found = {(path, match) for path in places for match in pattern.findall(path.read_text())}
    assert found
    for path, directory in found:
        assert list((REPO / directory).glob("*.tf")), f"{path.relative_to(REPO)}: {directory}"


def test_data_stores_are_hardened() -> None:
    rds = dict(hcl_blocks(load_hcl(REPO / "terraform/modules/rds/main.tf"), "resource"))
    db = rds["aws_db_instance"]["this"]
    assert hcl_attr(db, "engine") == "postgres"
    for flag in (
        "multi_az",
        "storage_encrypted",
        "deletion_protection",
        "performance_insights_enabled",
    ):
        assert hcl_attr(db, flag) is True, flag
    assert hcl_attr(db, "backup_retention_period") == 30

    redis = dict(hcl_blocks(load_hcl(REPO / "terraform/modules/redis/main.tf"), "resource"))
    group = redis["aws_elasticache_replication_group"]["this"]
    for flag in (
        "automatic_failover_enabled",
        "at_rest_encryption_enabled",
        "transit_encryption_enabled",
    ):
        assert hcl_attr(group, flag) is True, flag
    assert hcl_attr(group, "auth_token")


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60}[duration[-1]]


def test_nomad_restarts_hung_tasks_and_lets_them_drain() -> None:
    """check_restart on the API's liveness check, a checked worker, and a client
    max_kill_timeout that does not cap the jobs' kill_timeout (Nomad's default is 30 s)."""
    import jinja2

    def job(name: str) -> dict:
        return next(hcl_blocks(load_hcl(REPO / "nomad" / name), "job"))[1]

    api_group = dict(hcl_blocks(job("api.nomad.hcl"), "group"))["api"]
    checks = {hcl_attr(c, "name"): c for c in hcl_block(api_group, "service").get("check", [])}
    assert hcl_block(checks["health"], "check_restart"), "a hung API is never restarted"
    assert not hcl_block(checks["ready"], "check_restart"), "readiness must not restart"

    worker_group = dict(hcl_blocks(job("worker.nomad.hcl"), "group"))["worker"]
    (worker_check,) = hcl_block(worker_group, "service")["check"]
    assert hcl_attr(worker_check, "path") == "/metrics"
    assert hcl_block(worker_check, "check_restart")

    template = (REPO / "roles/nomad_host/templates/nomad.hcl.j2").read_text()
    defaults = yaml.safe_load((REPO / "roles/nomad_host/defaults/main.yml").read_text())
    facts = {"default_ipv4": {"address": "10.30.16.20"}}
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(bool=bool, to_json=json.dumps)  # the Ansible filters it uses
    rendered = environment.from_string(template).render(
        **defaults, ansible_managed="test", ansible_facts=facts
    )
    client = hcl_block(hcl2.loads(rendered), "client")
    ceiling = _seconds(hcl_attr(client, "max_kill_timeout", "30s"))
    for path in nomad_files():
        for _, group in hcl_blocks(next(hcl_blocks(load_hcl(path), "job"))[1], "group"):
            for name, task in hcl_blocks(group, "task"):
                kill_timeout = hcl_attr(task, "kill_timeout", "5s")
                assert _seconds(kill_timeout) <= ceiling, f"{path.name}:{name} {kill_timeout}"
