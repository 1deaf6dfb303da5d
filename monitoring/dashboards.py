"""Grafana dashboards for the API, the worker and backups, as data.

Each dashboard is a list of rows of panels; a panel is a title, a unit and its PromQL queries.
`render.py` turns them into Grafana JSON (schema 39, a `datasource` variable so they import
into any Grafana), and the end-to-end test evaluates every query against a real Prometheus.
Queries may use Grafana's `$__rate_interval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitoring.spec import Spec, budget, error_ratio

RATE = "$__rate_interval"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = field(default=("expense-wise",))


def panel(title: str, *queries: Query, unit: str = "short", description: str = "") -> Panel:
    return Panel(title, queries, unit, description=description)


def legend(*labels: str) -> str:
    """Grafana's legend template naming these labels: {{method}} {{path}}."""
    return " ".join("{{" + label + "}}" for label in labels)


def rate(metric: str, selector: str) -> str:
    return f"rate({metric}{{{selector}}}[{RATE}])"


def summed(by: tuple[str, ...], expr: str) -> Query:
    return Query(f"sum by ({', '.join(by)}) ({expr})", legend(*by))


def quantiles(metric: str, labels: tuple[str, ...], selector: str) -> tuple[Query, ...]:
    by = ", ".join(("le", *labels))
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({by}) ({rate(metric + '_bucket', selector)}))",
            f"p{round(q * 100)} {legend(*labels)}",
        )
        for q in (0.5, 0.95, 0.99)
    )


def _slo_panels(spec: Spec) -> tuple[Panel, ...]:
    return tuple(
        panel(
            f"Error budget burn rate, {window} window",
            *(
                Query(f"{error_ratio(slo, window)} / {budget(slo):.6g}", slo["title"])
                for slo in spec.slos
            ),
            unit="x",
            description="At 1 the 30-day budget lasts exactly 30 days. Pages fire at 14.4 (1h "
            "and 5m windows) or 6 (6h and 30m), tickets at 3 (1d and 2h) or 1 (3d and 6h).",
        )
        for window in ("1h", "6h", "3d")
    )


def api_dashboard(spec: Spec) -> Dashboard:
    api = f'job="{spec.jobs["api"]}"'
    routes = f'{api}, path=~"/api/.*"'
    limited = f'{api}, status_code="429"'
    return Dashboard(
        "expense-wise-api",
        "Expense-Wise / API",
        (
            Row("Objectives", _slo_panels(spec)),
            Row(
                "Requests by route (RED)",
                (
                    panel(
                        "Requests per second",
                        summed(("method", "path"), rate("http_requests_total", routes)),
                        unit="reqps",
                    ),
                    panel(
                        "Server errors (5xx) per second",
                        summed(
                            ("status_code", "method", "path"),
                            rate("http_requests_total", f'{routes}, status_code=~"5.."'),
                        ),
                        unit="reqps",
                    ),
                    panel(
                        "Duration by route",
                        *quantiles("http_request_duration_seconds", ("method", "path"), routes),
                        unit="s",
                    ),
                    panel(
                        "Requests in flight",
                        summed(("instance",), f"http_requests_in_progress{{{api}}}"),
                    ),
                ),
            ),
            Row(
                "Rate limits",
                (
                    panel(
                        "Rate-limited requests (429) per second",
                        summed(("path",), rate("http_requests_total", limited)),
                        unit="reqps",
                    ),
                    panel(
                        "Share of requests rate-limited",
                        Query(
                            f"sum({rate('http_requests_total', limited)})"
                            f" / sum({rate('http_requests_total', api)})",
                            "429 share",
                        ),
                        unit="percentunit",
                    ),
                ),
            ),
            Row(
                "Database pool and dependencies",
                (
                    panel(
                        "Pool connections in use, and pool size",
                        summed(("instance",), f"db_pool_connections_in_use{{{api}}}"),
                        summed(("instance",), f"db_pool_size{{{api}}}"),
                    ),
                    panel(
                        "Pool timeouts (503) per second",
                        summed(("instance",), rate("db_pool_timeouts_total", api)),
                        unit="reqps",
                    ),
                    panel(
                        "Readiness checks (1 = ok)",
                        Query(f"min by (check) (readiness_check_ok{{{api}}})", legend("check")),
                    ),
                    panel("API instances up", Query(f"sum(up{{{api}}})", "up")),
                ),
            ),
        ),
    )


def worker_dashboard(spec: Spec) -> Dashboard:
    worker = f'job="{spec.jobs["worker"]}"'
    ocr = f'{worker}, exported_job="process_receipt"'
    return Dashboard(
        "expense-wise-worker",
        "Expense-Wise / Worker",
        (
            Row(
                "Queue",
                (
                    panel("Jobs queued", Query("max(job_queue_depth)", "queued")),
                    panel(
                        "Longest wait of a due job",
                        Query("max(job_queue_oldest_age_seconds)", "oldest"),
                        unit="s",
                    ),
                    panel("Workers up", Query(f"sum(up{{{worker}}})", "up")),
                ),
            ),
            Row(
                "Jobs",
                (
                    panel(
                        "Job outcomes per second",
                        *(
                            Query(
                                f"sum by (exported_job) ({rate(f'jobs_{outcome}_total', worker)})",
                                f"{legend('exported_job')} {outcome}",
                            )
                            for outcome in ("succeeded", "retried", "failed")
                        ),
                        unit="ops",
                    ),
                    panel(
                        "Job duration",
                        *quantiles("job_duration_seconds", ("exported_job",), worker),
                        unit="s",
                    ),
                ),
            ),
            Row(
                "Receipts and OCR",
                (
                    panel(
                        "Receipts by status", Query("max by (status) (receipts)", legend("status"))
                    ),
                    panel(
                        "Oldest receipt waiting for OCR",
                        Query("max(receipts_oldest_pending_age_seconds)", "oldest"),
                        unit="s",
                    ),
                    panel(
                        "OCR results per second",
                        summed(("status",), rate("receipts_finished_total", worker)),
                        unit="ops",
                    ),
                    panel(
                        "OCR job duration (download, Tesseract readings, storing)",
                        *quantiles("job_duration_seconds", ("exported_job",), ocr),
                        unit="s",
                    ),
                    panel(
                        "OCR reading time per engine (the cascade's cost)",
                        *quantiles("ocr_reading_seconds", ("engine",), worker),
                        unit="s",
                    ),
                ),
            ),
            Row(
                "Email",
                (
                    panel(
                        "Emails sent and failed per second",
                        summed(("kind",), rate("emails_sent_total", worker)),
                        summed(("kind", "outcome"), rate("emails_failed_total", worker)),
                        unit="ops",
                    ),
                    panel(
                        "Outbox by status",
                        Query("max by (status) (outbox_emails)", legend("status")),
                    ),
                    panel(
                        "Oldest unsent and most overdue email",
                        Query("max(outbox_oldest_unsent_age_seconds)", "oldest unsent"),
                        Query("max(outbox_oldest_due_age_seconds)", "most overdue"),
                        unit="s",
                    ),
                ),
            ),
        ),
    )


def backups_dashboard(spec: Spec) -> Dashboard:
    backup_slo = next(slo for slo in spec.slos if slo["name"] == "backup_age")
    verified = "max(expense_wise_backup_newest_verified_timestamp_seconds)"
    return Dashboard(
        "expense-wise-backups",
        "Expense-Wise / Backups",
        (
            Row(
                "Backups",
                (
                    panel(
                        "Age of the newest backup",
                        Query(f"time() - {verified}", "verified"),
                        Query("time() - max(expense_wise_backup_newest_timestamp_seconds)", "any"),
                        unit="s",
                        description="The objective is a verified backup younger than 26 h.",
                    ),
                    panel("Backups kept", Query("max(expense_wise_backup_count)", "backups")),
                    panel(
                        "Size of the newest backup",
                        Query("max(expense_wise_backup_newest_size_bytes)", "size"),
                        unit="bytes",
                    ),
                    panel(
                        "Share of the last day without a fresh verified backup",
                        Query(error_ratio(backup_slo, "1d"), "1d"),
                        unit="percentunit",
                    ),
                ),
            ),
        ),
    )


def all_dashboards(spec: Spec) -> dict[str, dict[str, Any]]:
    return {
        board.uid.removeprefix("expense-wise-"): grafana_json(board)
        for board in (api_dashboard(spec), worker_dashboard(spec), backups_dashboard(spec))
    }


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) for every query of a rendered dashboard."""
    return [
        (item["title"], target["expr"])
        for item in board["panels"]
        for target in item.get("targets", [])
    ]


# --- Grafana JSON --------------------------------------------------------------------------

PANEL_WIDTH = 12
PANEL_HEIGHT = 8


def grafana_json(board: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in board.rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for index, item in enumerate(row.panels):
            x = (index % 2) * PANEL_WIDTH
            if index and index % 2 == 0:
                y += PANEL_HEIGHT
            panels.append(_panel_json(item, len(panels) + 1, x, y))
        y += PANEL_HEIGHT
    return {
        "uid": board.uid,
        "title": board.title,
        "tags": list(board.tags),
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": panels,
    }


def _panel_json(item: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": item.kind,
        "title": item.title,
        "description": item.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": item.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
            }
            for index, query in enumerate(item.queries)
        ],
    }
