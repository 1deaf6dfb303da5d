#!/usr/bin/env python3
"""Write Prometheus file_sd targets from Nomad's service registrations.

    expense-wise-prometheus-targets --nomad-addr URL [--token-file PATH] --out-dir DIR \
        SERVICE=JOB [SERVICE=JOB ...]

For each Nomad service (native service discovery), the registrations tagged `metrics` become
the targets of one Prometheus job, in DIR/JOB.json, replaced atomically. Debian's Prometheus
has no Nomad discovery of its own; it rereads these files when they change. Installed by the
Ansible role `prometheus`; standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 10


def registrations(nomad_addr: str, token: str, service: str) -> list[dict[str, Any]]:
    url = f"{nomad_addr.rstrip('/')}/v1/service/{urllib.parse.quote(service)}"
    request = urllib.request.Request(url, headers={"X-Nomad-Token": token} if token else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        found: list[dict[str, Any]] = json.load(response)
    return found


def targets(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "targets": [f"{item['Address']}:{item['Port']}"],
            "labels": {"nomad_alloc_id": item["AllocID"], "nomad_node_id": item["NodeID"]},
        }
        for item in sorted(found, key=lambda item: (item["Address"], item["Port"]))
        if "metrics" in (item.get("Tags") or [])
    ]


def write_atomically(path: Path, content: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as file:
        file.write(content)
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nomad-addr", required=True)
    parser.add_argument("--token-file", type=Path)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("services", nargs="+", metavar="SERVICE=JOB")
    args = parser.parse_args(argv)
    if not args.nomad_addr.startswith(("http://", "https://")):
        parser.error("--nomad-addr must be an http(s) URL")
    token = args.token_file.read_text().strip() if args.token_file else ""
    failed = False
    for pair in args.services:
        service, _, job = pair.partition("=")
        try:
            found = registrations(args.nomad_addr, token, service)
        except (OSError, ValueError) as error:
            # Keep the last good targets: a Nomad hiccup must not empty Prometheus's view.
            print(f"{service}: {error}", file=sys.stderr)
            failed = True
            continue
        write_atomically(args.out_dir / f"{job or service}.json", json.dumps(targets(found)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
