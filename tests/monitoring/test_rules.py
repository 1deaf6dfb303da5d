"""The rendered rules: up to date with monitoring/slos.yaml, valid for promtool, every alert
made to fire by a promtool unit test, and every alert linking a runbook section that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from monitoring.render import RULES_FILE, kubernetes_documents, rules_text, stale_files
from monitoring.spec import REPO, Spec, Timing

UNIT_TESTS = sorted((REPO / "monitoring" / "tests").glob("*.test.yml"))
RUNBOOKS = REPO / "docs" / "runbooks"


def alerts(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rendered_alerts() -> list[dict[str, Any]]:
    return alerts(yaml.safe_load((REPO / RULES_FILE).read_text())["groups"])


def test_rendered_files_are_committed_and_up_to_date() -> None:
    stale = stale_files(Spec.load())
    assert not stale, f"run `make monitoring` and commit: {[str(path) for path in stale]}"


def test_a_changed_spec_is_noticed(tmp_path: Path) -> None:
    spec = Spec.load()
    spec.raw["alerts"][0]["for"] = "7m"
    assert REPO / RULES_FILE in [REPO / path for path in stale_files(spec)]


def test_promtool_accepts_both_rule_files(promtool: str, tmp_path: Path) -> None:
    kubernetes_rules = tmp_path / "prometheusrule.rules.yml"
    rule = kubernetes_documents(Spec.load())["prometheusrule.yaml"]
    kubernetes_rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    compressed = tmp_path / "compressed.rules.yml"
    compressed.write_text(rules_text(Spec.load(), Timing(scale=1 / 60)))
    result = subprocess.run(
        [
            promtool,
            "check",
            "rules",
            str(REPO / RULES_FILE),
            str(kubernetes_rules),
            str(compressed),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 3


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, UNIT_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_in_a_unit_test() -> None:
    fired = {
        case["alertname"]
        for path in UNIT_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    names = {rule["alert"] for rule in rendered_alerts()}
    assert names - fired == set(), "alerts no promtool test makes fire"
    assert len(names) == 23


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_links_a_runbook_section_that_exists() -> None:
    base = Spec.load().raw["runbook_base_url"]
    for rule in rendered_alerts():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(base), url
        page, _, anchor = url.removeprefix(base).partition("#")
        headings = [
            line.lstrip("#").strip()
            for line in (RUNBOOKS / page).read_text().splitlines()
            if line.startswith("#")
        ]
        assert anchor in {github_anchor(heading) for heading in headings}, (rule["alert"], url)
        assert rule["labels"]["severity"] in {"page", "ticket"}
