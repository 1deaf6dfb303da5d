"""Nomad and Kubernetes run the same thing: image, commands, environment, checks, sizes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_helpers import (
    REPO,
    hcl_attr,
    hcl_block,
    hcl_blocks,
    kustomize_build,
    load_hcl,
    nomad_files,
    yaml,
)

IMAGE = "ghcr.io/expense-wise/expense-wise"
SECRET_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)=\{\{", re.MULTILINE)


def nomad_tasks() -> dict[str, dict[str, Any]]:
    """task name -> facts, over every jobspec (task names are unique per file)."""
    tasks: dict[str, dict[str, Any]] = {}
    for path in nomad_files():
        spec = load_hcl(path)
        variables = dict(hcl_blocks(spec, "variable"))
        _, job = next(hcl_blocks(spec, "job"))
        for group_name, group in hcl_blocks(job, "group"):
            checks = [
                hcl_attr(c, "path") for s in group.get("service", []) for c in s.get("check", [])
            ]
            for task_name, task in hcl_blocks(group, "task"):
                config = hcl_block(task, "config")
                template = hcl_block(task, "template")
                resources = hcl_block(task, "resources")
                tasks[f"{path.name}:{task_name}"] = {
                    "image": hcl_attr(config, "image"),
                    "image_default": hcl_attr(variables["image"], "default"),
                    "args": tuple(hcl_attr(config, "args")),
                    "env_attr": hcl_attr(task, "env"),
                    "config_default": hcl_attr(variables["config"], "default"),
                    "secret_names": set(SECRET_LINE.findall(hcl_attr(template, "data", ""))),
                    "template_env": hcl_attr(template, "env"),
                    "template_destination": hcl_attr(template, "destination"),
                    "checks": checks,
                    "cpu": hcl_attr(resources, "cpu"),
                    "memory": hcl_attr(resources, "memory"),
                    "memory_max": hcl_attr(resources, "memory_max"),
                    "kill_timeout": hcl_attr(task, "kill_timeout"),
                    "user": hcl_attr(task, "user"),
                    "group": group_name,
                }
    return tasks


TASKS = nomad_tasks()


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize_build(REPO / "k8s" / "base")


def k8s_containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        else:
            continue
        found += spec.get("initContainers", []) + spec["containers"]
    return found


def k8s_env_names(docs: list[dict[str, Any]]) -> set[str]:
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    template = yaml.safe_load((REPO / "k8s" / "base" / "secret.template.yaml").read_text())
    return set(config_map["data"]) | set(template["stringData"])


def cpu_millicores(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def memory_mib(value: str) -> int:
    return int(value[:-2]) * 1024 if value.endswith("Gi") else int(value[:-2])


def test_same_image(base) -> None:
    for name, task in TASKS.items():
        assert task["image"] == "${var.image}:${var.image_tag}", name
        assert task["image_default"] == IMAGE, name
    for container in k8s_containers(base):
        assert container["image"].split(":")[0] == IMAGE


def test_same_commands(base) -> None:
    nomad = {t["args"] for t in TASKS.values()}
    restore = {a for a in nomad if a[:2] == ("backup", "restore")}
    assert restore == {("backup", "restore", "${NOMAD_META_backup_id}", "--yes")}
    kubernetes = {tuple(c["args"]) for c in k8s_containers(base)}
    assert nomad - restore == kubernetes


def test_same_environment_names(base) -> None:
    expected = k8s_env_names(base)
    for name, task in TASKS.items():
        assert task["env_attr"] == "${var.config}", name
        assert task["template_env"] is True, name
        assert task["template_destination"].startswith("secrets/"), name
        assert set(task["config_default"]) | task["secret_names"] == expected, name


def test_same_default_configuration(base) -> None:
    (config_map,) = [d for d in base if d["kind"] == "ConfigMap"]
    for name, task in TASKS.items():
        assert task["config_default"] == config_map["data"], name


@pytest.mark.parametrize("env", ["staging", "production"])
def test_inventory_configuration_matches_overlay(env: str) -> None:
    overlay = kustomize_build(REPO / "k8s" / "overlays" / env)
    (config_map,) = [d for d in overlay if d["kind"] == "ConfigMap"]
    group_vars = yaml.safe_load((REPO / "inventory" / env / "group_vars" / "all.yml").read_text())
    assert {k: str(v) for k, v in group_vars["expense_wise_config"].items()} == config_map["data"]


def test_same_health_check_paths(base) -> None:
    (api,) = [
        d for d in base if d["kind"] == "Deployment" and d["metadata"]["name"] == "expense-wise-api"
    ]
    container = api["spec"]["template"]["spec"]["containers"][0]
    probe_paths = {
        container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert set(TASKS["api.nomad.hcl:api"]["checks"]) == probe_paths == {"/health", "/ready"}


@pytest.mark.parametrize(
    ("task", "deployment"),
    [("api.nomad.hcl:api", "expense-wise-api"), ("worker.nomad.hcl:worker", "expense-wise-worker")],
)
def test_comparable_resources(base, task: str, deployment: str) -> None:
    (doc,) = [d for d in base if d["kind"] == "Deployment" and d["metadata"]["name"] == deployment]
    resources = doc["spec"]["template"]["spec"]["containers"][0]["resources"]
    nomad = TASKS[task]
    assert nomad["cpu"] == cpu_millicores(resources["requests"]["cpu"])
    assert nomad["memory"] == memory_mib(resources["requests"]["memory"])
    assert nomad["memory_max"] == memory_mib(resources["limits"]["memory"])


def test_same_user_and_shutdown_window(base) -> None:
    for name, task in TASKS.items():
        assert task["user"] == "10001:10001", name
    (api,) = [
        d for d in base if d["kind"] == "Deployment" and d["metadata"]["name"] == "expense-wise-api"
    ]
    grace = api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert TASKS["api.nomad.hcl:api"]["kill_timeout"] == f"{grace}s"


@pytest.mark.parametrize("env", ["staging", "production"])
def test_trusted_proxies_are_the_environment_vpc(env: str) -> None:
    """The ingress / load balancer lives in the VPC; without TRUSTED_PROXIES every client
    behind it shares the proxy's rate-limit budget."""
    overlay = kustomize_build(REPO / "k8s" / "overlays" / env)
    (config_map,) = [d for d in overlay if d["kind"] == "ConfigMap"]
    tfvars = load_hcl(REPO / "terraform" / "environments" / f"{env}.tfvars")
    assert config_map["data"]["TRUSTED_PROXIES"] == hcl_attr(tfvars, "vpc_cidr")
