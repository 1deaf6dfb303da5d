"""Backup freshness as Prometheus metrics: how many backups there are, when the newest and the
newest verified one were taken, and the newest one's size.

The worker publishes them as gauges, refreshed from the backup target every few minutes, so the
backup-age objective is measured wherever a worker runs (Kubernetes, Nomad, hosts);
`backup list --textfile` writes the same names for node-exporter's textfile collector.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from prometheus_client import Gauge

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import load_manifests
from expense_wise.backup.targets import resolve_target
from expense_wise.periodic import periodically
from expense_wise.settings import Settings

REFRESH_SECONDS = 300.0
HELP = {
    "expense_wise_backup_count": "Backups in the target.",
    "expense_wise_backup_newest_timestamp_seconds": "Creation time of the newest backup.",
    "expense_wise_backup_newest_verified_timestamp_seconds": (
        "Creation time of the newest backup that passed verify (0: none)."
    ),
    "expense_wise_backup_newest_size_bytes": "Size of the newest backup.",
}
GAUGES = {name: Gauge(name, text, multiprocess_mode="max") for name, text in HELP.items()}


def backup_values(manifests: list[mf.Manifest]) -> dict[str, float]:
    """The metric values for manifests listed newest first."""
    newest = manifests[0] if manifests else None
    verified = next((item for item in manifests if item.verified), None)
    return {
        "expense_wise_backup_count": len(manifests),
        "expense_wise_backup_newest_timestamp_seconds": (
            newest.created_at.timestamp() if newest else 0
        ),
        "expense_wise_backup_newest_verified_timestamp_seconds": (
            verified.created_at.timestamp() if verified else 0
        ),
        "expense_wise_backup_newest_size_bytes": newest.size if newest else 0,
    }


def textfile_lines(manifests: list[mf.Manifest]) -> list[str]:
    lines: list[str] = []
    for name, value in backup_values(manifests).items():
        lines += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} gauge", f"{name} {value}"]
    return lines


async def refresh_gauges(settings: Settings) -> None:
    target = resolve_target(settings, None)
    manifests = await asyncio.to_thread(load_manifests, target)
    for name, value in backup_values(manifests).items():
        GAUGES[name].set(value)


def backup_gauges(settings: Settings) -> AbstractAsyncContextManager[None]:
    """Keeps the gauges current while the worker runs (one listing every few minutes)."""
    return periodically("backup gauges", lambda: refresh_gauges(settings), REFRESH_SECONDS)
