"""Run the real `terraform` offline: providers from the local filesystem mirror, registry
modules from `../shared/terraform-modules` served by a small registry on 127.0.0.1.

No machine here reaches registry.terraform.io. Terraform finds providers through a CLI
configuration `provider_installation { filesystem_mirror { ... } }`, and registry modules
through a `host "registry.terraform.io"` block whose `modules.v1` service is the server below
(Terraform's module registry protocol: `GET .../versions`, then `GET .../download`, answered
204 with an `X-Terraform-Get` URL of a tarball).

Environment: TF_PLUGIN_MIRROR (default /opt/tf-plugins), TF_MODULES_DIR (default
../shared/terraform-modules beside the repository).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO, require, unavailable

PLUGIN_MIRROR = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
MODULES_DIR = Path(os.environ.get("TF_MODULES_DIR", REPO.parent / "shared" / "terraform-modules"))
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
# The terraform-aws-modules/eks module needs the tls and time providers, which no mirror here
# has; the test root swaps in a stand-in with the same outputs (see eks_stand_in/).
EKS_STAND_IN = Path(__file__).resolve().parent / "terraform" / "eks_stand_in"
TESTS_DIR = Path(__file__).resolve().parent / "terraform" / "tests"


class _RegistryHandler(BaseHTTPRequestHandler):
    """modules.v1 of Terraform's registry protocol over MODULES_DIR/<ns>/<name>/<provider>/<v>."""

    server: _RegistryServer

    def do_GET(self) -> None:
        parts = [part for part in self.path.split("?")[0].split("/") if part]
        # /v1/modules/<ns>/<name>/<provider>/versions
        if len(parts) == 6 and parts[:2] == ["v1", "modules"] and parts[5] == "versions":
            module = MODULES_DIR.joinpath(*parts[2:5])
            versions = sorted(p.name for p in module.iterdir()) if module.is_dir() else []
            if not versions:
                self._send(404, b'{"errors":["not found"]}')
                return
            body = {"modules": [{"versions": [{"version": v} for v in versions]}]}
            self._send(200, json.dumps(body).encode())
        # /v1/modules/<ns>/<name>/<provider>/<version>/download
        elif len(parts) == 7 and parts[:2] == ["v1", "modules"] and parts[6] == "download":
            if not MODULES_DIR.joinpath(*parts[2:6]).is_dir():
                self._send(404, b'{"errors":["not found"]}')
                return
            self.send_response(204)
            self.send_header("X-Terraform-Get", "/archives/" + "/".join(parts[2:6]) + ".tar.gz")
            self.end_headers()
        # /archives/<ns>/<name>/<provider>/<version>.tar.gz
        elif parts and parts[0] == "archives" and self.path.endswith(".tar.gz"):
            source = MODULES_DIR.joinpath(*parts[1:-1], parts[-1].removesuffix(".tar.gz"))
            self._send(200, _tarball(source), "application/gzip")
        else:
            self._send(404, b'{"errors":["not found"]}')

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _RegistryServer(ThreadingHTTPServer):
    daemon_threads = True


def _tarball(source: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(source)))
    return buffer.getvalue()


@dataclass(frozen=True)
class Terraform:
    """A terraform CLI set up for offline use; `run` raises with the output on failure."""

    binary: str
    env: dict[str, str]

    def run(self, cwd: Path, *args: str, timeout: int = 600) -> str:
        result = subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} in {cwd} exited {result.returncode}:\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}",
                pytrace=False,
            )
        return result.stdout

    def init(self, cwd: Path) -> None:
        self.run(cwd, "init", "-backend=false", "-input=false", "-no-color")

    def show_plan(self, cwd: Path, *plan_args: str) -> dict[str, Any]:
        """`plan -out` then `show -json` of that plan."""
        self.run(
            cwd, "plan", "-input=false", "-no-color", "-lock=false", "-out=test.tfplan", *plan_args
        )
        return json.loads(self.run(cwd, "show", "-json", "test.tfplan"))


@contextmanager
def offline_terraform(workdir: Path) -> Iterator[Terraform]:
    """The terraform binary with a CLI configuration using the mirror and a local registry."""
    binary = require("terraform")
    mirror = PLUGIN_MIRROR / AWS_PROVIDER
    if not any(mirror.rglob("terraform-provider-aws*")):
        unavailable(f"no hashicorp/aws provider in the filesystem mirror {PLUGIN_MIRROR}")
    if not MODULES_DIR.is_dir():
        unavailable(f"no registry modules at {MODULES_DIR} (TF_MODULES_DIR)")
    server = _RegistryServer(("127.0.0.1", 0), _RegistryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = workdir / "terraform.tfrc"
    config.write_text(
        f"""
provider_installation {{
  filesystem_mirror {{
    path    = "{PLUGIN_MIRROR}"
    include = ["{AWS_PROVIDER}"]
  }}
}}
host "registry.terraform.io" {{
  services = {{
    "modules.v1" = "http://127.0.0.1:{server.server_port}/v1/modules/"
  }}
}}
"""
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_PLUGIN_CACHE_DIR": "",
    }
    try:
        yield Terraform(binary, env)
    finally:
        server.shutdown()
        server.server_close()


def copy_root(destination: Path) -> Path:
    """terraform/ copied without local state, with the EKS stand-in swapped in by an
    override file (Terraform merges `*_override.tf` into the module block) and the test files
    under tests/. Returns the copy's path."""
    root = destination / "root"
    shutil.copytree(
        REPO / "terraform",
        root,
        ignore=shutil.ignore_patterns(
            ".terraform", "*.tfstate*", "*.tfplan", ".terraform.lock.hcl"
        ),
    )
    (root / "eks_override.tf").write_text(f'module "eks" {{\n  source = "{EKS_STAND_IN}"\n}}\n')
    shutil.copytree(TESTS_DIR, root / "tests")
    return root


def copy_module(name: str, destination: Path) -> Path:
    """Every module copied side by side into `destination` (a module may call a sibling, as
    disaster_recovery calls ../buckets); returns the path of `name`."""
    shutil.copytree(
        REPO / "terraform" / "modules",
        destination,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"),
        dirs_exist_ok=True,
    )
    return destination / name
