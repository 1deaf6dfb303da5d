"""The monitoring spec (monitoring/slos.yaml) as Python: SLOs, burn-rate policies, symptom
alerts, and the names of the recording rules that the alerts and dashboards share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "monitoring" / "slos.yaml"

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RANGE = re.compile(r"\[(\d+[smhdw])\]")


def seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"{duration!r} is not a duration such as 30s, 5m, 1h or 3d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@dataclass(frozen=True)
class Timing:
    """How durations are written: as in the spec, or compressed by `scale` (the end-to-end
    test runs the same rules with every window and `for` 60 times shorter)."""

    scale: float = 1.0

    def duration(self, value: str) -> str:
        if self.scale == 1.0:
            return value
        total = seconds(value)
        return f"{max(1, round(total * self.scale)) if total else 0}s"

    def expression(self, text: str) -> str:
        return _RANGE.sub(lambda match: f"[{self.duration(match.group(1))}]", text)


@dataclass(frozen=True)
class Spec:
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = SPEC) -> Spec:
        return cls(yaml.safe_load(path.read_text()))

    @property
    def jobs(self) -> dict[str, str]:
        return dict(self.raw["scrape_jobs"])

    @property
    def slos(self) -> list[dict[str, Any]]:
        return list(self.raw["slos"])

    @property
    def burn_rate_alerts(self) -> list[dict[str, Any]]:
        return list(self.raw["burn_rate_alerts"])

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.raw["alerts"])

    def substitute(self, text: str, **extra: str) -> str:
        values = {"api_job": self.jobs["api"], "worker_job": self.jobs["worker"], **extra}
        return " ".join(Template(text).substitute(values).split())

    def runbook_url(self, anchor: str) -> str:
        return str(self.raw["runbook_base_url"]) + anchor

    def windows(self) -> list[str]:
        """Every window a burn-rate alert looks at, shortest first."""
        found = {
            window
            for policy in self.burn_rate_alerts
            for pair in policy["windows"]
            for window in (pair["long"], pair["short"])
        }
        return sorted(found, key=seconds)


def error_ratio(slo: dict[str, Any], window: str) -> str:
    return f"slo:{slo['name']}_errors:ratio_rate{window}"


def indicator(slo: dict[str, Any]) -> str:
    return f"slo:{slo['name']}_bad:indicator"


def budget(slo: dict[str, Any]) -> float:
    return 1 - float(slo["objective"]) / 100


def number(value: float) -> str:
    return f"{value:.6g}"
