"""Inventories hold no plaintext secrets; roles follow the house layout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO, yaml

INVENTORIES = ("local", "staging", "production")
ROLES = sorted(p for p in (REPO / "roles").iterdir() if p.is_dir())
SECRETISH = re.compile(r"(password|secret|token|database_url|redis_url|jwt|api_key)", re.IGNORECASE)
# Names of secrets rather than secrets: where to find them.
NOT_A_SECRET = re.compile(r"(_prefix|_path|_names)$", re.IGNORECASE)
SAFE_VALUE = re.compile(
    r"^\s*\{\{.*(lookup\(|query\(|vault_|\bexpense_wise_nomad_token\b|nomad_jobs_secrets).*\}\}\s*$",
    re.DOTALL,
)


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted key path, leaf value) for every leaf."""
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in walk(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in walk(value, f"{path}[{i}]")]
    return [(path, node)]


def inventory_files(name: str) -> list[Path]:
    return sorted((REPO / "inventory" / name).rglob("*.yml"))


@pytest.mark.parametrize("name", INVENTORIES)
def test_inventory_layout(name: str) -> None:
    hosts = yaml.safe_load((REPO / "inventory" / name / "hosts.yml").read_text())
    assert "all" in hosts and "app_cli" in hosts["all"]["children"]
    assert (REPO / "inventory" / name / "group_vars" / "all.yml").is_file()
    if name != "local":
        assert {"nomad_servers", "nomad_clients"} <= hosts["all"]["children"].keys()


def test_local_inventory_runs_on_this_machine() -> None:
    hosts = yaml.safe_load((REPO / "inventory" / "local" / "hosts.yml").read_text())
    localhost = hosts["all"]["children"]["app_cli"]["hosts"]["localhost"]
    assert localhost["ansible_connection"] == "local"
    assert localhost["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"


@pytest.mark.parametrize("name", INVENTORIES)
def test_no_plaintext_secrets(name: str) -> None:
    for path in inventory_files(name):
        text = path.read_text()
        if text.startswith("$ANSIBLE_VAULT;"):
            continue
        for key, value in walk(yaml.safe_load(text)):
            leaf = key.rsplit(".", 1)[-1]
            if (
                SECRETISH.search(leaf)
                and not NOT_A_SECRET.search(leaf)
                and isinstance(value, str)
                and value
            ):
                assert SAFE_VALUE.match(value), (
                    f"{path.relative_to(REPO)}: {key} looks like a plaintext secret"
                )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_layout(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    for variable in defaults:
        assert variable.startswith(f"{role.name}_"), (
            f"{variable} is not prefixed with the role name"
        )
        assert variable in options, f"{variable} is not declared in meta/argument_specs.yml"
    for option, spec in options.items():
        assert option.startswith(f"{role.name}_")
        assert spec.get("description"), f"{option} has no description"

    commented = (role / "defaults" / "main.yml").read_text().count("\n#")
    assert commented >= 1, "defaults are documented with comments"

    main = yaml.safe_load((role / "tasks" / "main.yml").read_text())
    for task in main:
        modules = set(task) - {"name", "when", "loop", "loop_control", "vars", "tags"}
        assert modules == {"ansible.builtin.include_tasks"}, (
            f"{role.name}/tasks/main.yml should only include concern files"
        )

    handlers = role / "handlers" / "main.yml"
    if handlers.exists():
        for handler in yaml.safe_load(handlers.read_text()):
            assert handler["listen"] == handler["listen"].lower(), (
                "handlers are notified by lower-case verbs"
            )

    for template in (role / "templates").glob("*") if (role / "templates").exists() else []:
        assert template.suffix == ".j2", template


@pytest.mark.parametrize("name", ["staging", "production"])
def test_nomad_hosts_are_reached_through_ssm(name: str) -> None:
    """The hosts have no SSH ingress (terraform nomad_hosts): Ansible connects through SSM."""
    hosts = yaml.safe_load((REPO / "inventory" / name / "hosts.yml").read_text())
    nomad = hosts["all"]["children"]["nomad"]
    assert nomad["vars"]["ansible_connection"] == "community.aws.aws_ssm"
    assert "ansible_aws_ssm_bucket_name" in nomad["vars"]
    for group in ("nomad_servers", "nomad_clients"):
        for host, variables in hosts["all"]["children"][group]["hosts"].items():
            assert variables["ansible_aws_ssm_instance_id"].startswith("i-"), host
