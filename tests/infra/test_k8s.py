"""Structure of the built kustomize overlays (the exact output that gets applied)."""

from __future__ import annotations

from typing import Any

import pytest
from infra_helpers import OVERLAYS, REPO, hcl_attr, load_hcl, yaml

WORKLOAD_KINDS = {"Deployment", "Job", "CronJob"}
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/component"}
LABEL_KEYS = SELECTOR_KEYS | {
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
}
SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "SMTP_USER", "SMTP_PASSWORD"}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return doc["spec"]["template"]["metadata"]["labels"]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_carries_the_standard_labels(overlays, overlay: str) -> None:
    for doc in overlays[overlay]:
        labels = doc["metadata"].get("labels", {})
        missing = LABEL_KEYS - labels.keys()
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"
        if doc["kind"] in WORKLOAD_KINDS:
            assert pod_labels(doc).keys() >= LABEL_KEYS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_use_only_name_and_component(overlays, find, overlay: str) -> None:
    docs = overlays[overlay]
    for doc in find(docs, "Deployment") + find(docs, "PodDisruptionBudget"):
        assert set(doc["spec"]["selector"]["matchLabels"]) == SELECTOR_KEYS
    for service in find(docs, "Service"):
        assert set(service["spec"]["selector"]) == SELECTOR_KEYS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down(overlays, overlay: str) -> None:
    workloads = [d for d in overlays[overlay] if d["kind"] in WORKLOAD_KINDS]
    assert {d["kind"] for d in workloads} == WORKLOAD_KINDS
    for doc in workloads:
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in containers(doc):
            where = f"{doc['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert context["runAsUser"] == 10001 and context["runAsGroup"] == 10001, where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], where
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), where
            assert {"cpu", "memory"} <= resources["limits"].keys(), where
            assert container["image"].startswith("ghcr.io/expense-wise/expense-wise:"), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_deployment(overlays, find, overlay: str) -> None:
    (api,) = find(overlays[overlay], "Deployment", "expense-wise-api")
    spec = api["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > 30, "must outlast the 30 s drain"
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {
        "topology.kubernetes.io/zone"
    }
    (container,) = pod["containers"]
    assert container["args"] == ["serve"]
    assert container["ports"][0]["containerPort"] == 8000
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000, "metrics": 9101}
    (config,) = find(overlays[overlay], "ConfigMap")
    assert config["data"]["METRICS_PORT"] == "9101"  # /metrics off the ingress's port
    (service,) = find(overlays[overlay], "Service", "expense-wise-api")
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "http": "http",
        "metrics": "metrics",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_deployment(overlays, find, overlay: str) -> None:
    (worker,) = find(overlays[overlay], "Deployment", "expense-wise-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    # A hung worker is restarted: liveness is the metrics endpoint of WORKER_METRICS_PORT.
    (config_map,) = find(overlays[overlay], "ConfigMap")
    (port,) = container["ports"]
    assert port["containerPort"] == int(config_map["data"]["WORKER_METRICS_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": port["name"]}
    # Memory follows the measured OCR peak (two RapidOCR readings at once, issue 15).
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "1536Mi"},
    }


def test_production_autoscaling_numbers(overlays, find) -> None:
    (hpa,) = find(overlays["production"], "HorizontalPodAutoscaler", "expense-wise-api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert find(overlays["production"], "HorizontalPodAutoscaler", "expense-wise-worker")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets(overlays, find, overlay: str) -> None:
    budgets = {d["metadata"]["name"]: d for d in find(overlays[overlay], "PodDisruptionBudget")}
    assert set(budgets) == {"expense-wise-api", "expense-wise-worker"}
    assert budgets["expense-wise-api"]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_what_the_app_needs(overlays, find, overlay: str) -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in find(overlays[overlay], "NetworkPolicy")}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    ingress = policies["allow-api-ingress"]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert [p["port"] for rule in ingress["ingress"] for p in rule["ports"]] == [8000]
    sources = [s["namespaceSelector"]["matchLabels"] for s in ingress["ingress"][0]["from"]]
    # Only user traffic reaches the API's port: /metrics is on METRICS_PORT, for Prometheus.
    assert sources == [{"kubernetes.io/metadata.name": "ingress-nginx"}]
    if "allow-api-metrics" in policies:
        scrape = policies["allow-api-metrics"]
        assert [p["port"] for rule in scrape["ingress"] for p in rule["ports"]] == [9101]
        (rule,) = scrape["ingress"]
        assert [s["namespaceSelector"]["matchLabels"] for s in rule["from"]] == [
            {"kubernetes.io/metadata.name": "monitoring"}
        ]

    dns_ports = {
        (p["protocol"], p["port"]) for r in policies["allow-dns"]["egress"] for p in r["ports"]
    }
    assert dns_ports == {("UDP", 53), ("TCP", 53)}

    egress_ports = {p["port"] for r in policies["allow-app-egress"]["egress"] for p in r["ports"]}
    assert egress_ports == {5432, 6379, 443, 587}
    data_rule = policies["allow-app-egress"]["egress"][0]
    assert data_rule["to"][0]["ipBlock"]["cidr"] != "0.0.0.0/0", "databases stay inside the VPC"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_has_tls_and_rate_limits(overlays, find, overlay: str) -> None:
    (ingress,) = find(overlays[overlay], "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert "cert-manager.io/cluster-issuer" in annotations
    assert "nginx.ingress.kubernetes.io/limit-rps" in annotations
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_and_backup_schedules(overlays, find, overlay: str) -> None:
    docs = overlays[overlay]
    (job,) = find(docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    cronjobs = {d["metadata"]["name"]: d for d in find(docs, "CronJob")}
    assert set(cronjobs) == {"expense-wise-backup", "expense-wise-backup-verify"}
    for cronjob in cronjobs.values():
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    backup_steps = [c["args"] for c in containers(cronjobs["expense-wise-backup"])]
    assert backup_steps[:2] == [["backup", "create"], ["backup", "verify", "--latest"]]


def test_service_account_has_irsa_annotation(overlays, find) -> None:
    for overlay in OVERLAYS:
        (account,) = find(overlays[overlay], "ServiceAccount")
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
            "arn:aws:iam::"
        )


def test_production_secrets_come_from_secrets_manager(overlays, find) -> None:
    (external,) = find(overlays["production"], "ExternalSecret")
    assert external["spec"]["target"]["name"] == "expense-wise-secrets"
    assert {d["secretKey"] for d in external["spec"]["data"]} == SECRET_KEYS
    assert not find(overlays["production"], "Secret"), "no Secret with values in git"


def test_secret_template_holds_no_values() -> None:
    template = yaml.safe_load((REPO / "k8s" / "base" / "secret.template.yaml").read_text())
    assert set(template["stringData"]) == SECRET_KEYS
    assert all(value == "" for value in template["stringData"].values())


def test_namespaces_differ_per_overlay(overlays, find) -> None:
    names = {o: find(overlays[o], "Namespace")[0]["metadata"]["name"] for o in OVERLAYS}
    assert names == {
        "staging": "expense-wise-staging",
        "production": "expense-wise",
        "production-dr": "expense-wise",
    }
    for overlay, namespace in names.items():
        for doc in overlays[overlay]:
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == namespace


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaled_deployments_leave_replicas_to_the_hpa(overlays, find, overlay: str) -> None:
    targets = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in find(overlays[overlay], "HorizontalPodAutoscaler")
    }
    assert targets == {"expense-wise-api", "expense-wise-worker"}
    for name in targets:
        (deployment,) = find(overlays[overlay], "Deployment", name)
        assert "replicas" not in deployment["spec"], f"{name}: apply would fight the HPA"


def test_the_dr_overlay_is_production_on_the_failover_stack(overlays, find) -> None:
    """Only the region, the buckets (the replicas) and the IRSA role differ from production,
    and they are what the failover stack (environments/production-dr.tfvars) creates."""
    settings = {
        **load_hcl(REPO / "terraform" / "environments" / "production.tfvars"),
        **load_hcl(REPO / "terraform" / "environments" / "production-dr.tfvars"),
    }
    region = hcl_attr(settings, "region")
    primary = hcl_attr(settings, "failover")["primary_name"]
    (production,) = find(overlays["production"], "ConfigMap")
    (failover,) = find(overlays["production-dr"], "ConfigMap")
    changed = {
        key: value
        for key, value in failover["data"].items()
        if production["data"].get(key) != value
    }
    assert changed == {
        "AWS_REGION": region,
        "AWS_S3_BUCKET": f"{primary}-dr-receipts",
        "BACKUP_S3_BUCKET": f"{primary}-dr-backups",
    }
    assert set(failover["data"]) == set(production["data"])
    (store,) = find(overlays["production-dr"], "SecretStore")
    assert store["spec"]["provider"]["aws"]["region"] == region
    (account,) = find(overlays["production-dr"], "ServiceAccount")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/{primary}-dr-app"), "app_iam names the IRSA role <name>-app"
