"""The Nomad path's Prometheus (Ansible role `prometheus`): its configuration, rendered from
the role's template and defaults, passes `promtool check config` with the rendered rules
installed; its target sync turns Nomad service registrations into file_sd targets; and
Debian's prometheus started with that configuration scrapes them under the job names the
alert rules expect."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from monitoring.render import RULES_FILE
from monitoring.spec import REPO, Spec
from tests.conftest import free_port
from tests.monitoring.stack import Prometheus, temporary_directory, wait_until

ROLE = REPO / "roles" / "prometheus"
SYNC = ROLE / "files" / "nomad_targets.py"


def role_config(config_dir: Path) -> str:
    """The role's prometheus.yml for this configuration directory, templated by Ansible."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables.update(prometheus_config_dir=str(config_dir), prometheus_scrape_interval="1s")
    template = (ROLE / "templates" / "prometheus.yml.j2").read_text()
    rendered: str = Templar(loader=DataLoader(), variables=variables).template(template)
    return rendered


class FakeNomadServices:
    """GET /v1/service/<name> as Nomad answers it, from a dict of registrations."""

    def __init__(self, services: dict[str, list[dict[str, Any]]]) -> None:
        self.tokens: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.tokens.append(self.headers.get("X-Nomad-Token"))
                name = self.path.removeprefix("/v1/service/")
                body = json.dumps(services.get(name, [])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


def registration(port: int, tags: list[str]) -> dict[str, Any]:
    return {
        "ServiceName": "expense-wise-worker",
        "Address": "127.0.0.1",
        "Port": port,
        "Tags": tags,
        "AllocID": f"alloc-{port}",
        "NodeID": "node-1",
    }


@pytest.fixture
def config_dir() -> Iterator[Path]:
    with temporary_directory() as directory:
        (directory / "rules").mkdir()
        (directory / "targets").mkdir()
        (directory / "rules" / RULES_FILE.name).write_text((REPO / RULES_FILE).read_text())
        yield directory


def test_role_configuration_passes_promtool_with_the_rules(promtool: str, config_dir: Path):
    config = config_dir / "prometheus.yml"
    config.write_text(role_config(config_dir))
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 61 rules found" in result.stdout
    jobs = [job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]]
    assert jobs == list(Spec.load().jobs.values())


def test_nomad_registrations_become_scraped_targets(prometheus_binary: str, config_dir: Path):
    worker_port = free_port()
    registry = CollectorRegistry()
    Counter("jobs_started_total", "a worker's counter", ["job"], registry=registry).labels("x")
    server, _thread = start_http_server(worker_port, addr="127.0.0.1", registry=registry)
    nomad = FakeNomadServices(
        {
            # One allocation with its metrics port, one registration of something else.
            "expense-wise-worker": [registration(worker_port, ["metrics"]), registration(1, [])],
        }
    )
    token = config_dir / "nomad-token"
    token.write_text("read-token\n")
    sync = subprocess.run(
        [
            sys.executable,
            str(SYNC),
            "--nomad-addr",
            nomad.url,
            "--token-file",
            str(token),
            "--out-dir",
            str(config_dir / "targets"),
            "expense-wise-api-metrics=expense-wise-api",
            "expense-wise-worker=expense-wise-worker",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sync.returncode == 0, sync.stderr
    assert set(nomad.tokens) == {"read-token"}
    worker_targets = json.loads((config_dir / "targets" / "expense-wise-worker.json").read_text())
    assert worker_targets == [
        {
            "targets": [f"127.0.0.1:{worker_port}"],
            "labels": {"nomad_alloc_id": f"alloc-{worker_port}", "nomad_node_id": "node-1"},
        }
    ]
    assert json.loads((config_dir / "targets" / "expense-wise-api.json").read_text()) == []

    prometheus = Prometheus(prometheus_binary, config_dir, role_config(config_dir))
    prometheus.start()
    try:
        wait_until(
            lambda: prometheus.query('up{job="expense-wise-worker"} == 1'),
            30,
            "the worker discovered through Nomad was not scraped",
        )
        (sample,) = prometheus.query("jobs_started_total")
        assert sample["metric"]["job"] == "expense-wise-worker"
        assert sample["metric"]["nomad_alloc_id"] == f"alloc-{worker_port}"
        rules = prometheus.api("rules")["groups"]
        assert {group["name"] for group in rules} == {
            "expense-wise-slo-recordings",
            "expense-wise-slo-alerts",
            "expense-wise-symptoms",
        }
    finally:
        prometheus.stop()
        server.shutdown()
        nomad.server.shutdown()
