"""The fake Nomad API refuses what a Nomad server refuses, and our jobspecs decode into
well-typed api.Jobs (nomad_api_types.py follows hashicorp/nomad's api/ package)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fake_nomad import FakeNomad, fake_nomad, parse_job
from infra_helpers import REPO, nomad_files
from nomad_api_types import JobspecError, check_json, parse_duration

SECONDS = 1_000_000_000


@pytest.fixture
def nomad() -> Iterator[FakeNomad]:
    with fake_nomad() as server:
        yield server


def _job(name: str, variables: str = 'image_tag = "3f2c1ab"') -> dict[str, Any]:
    return parse_job({"JobHCL": (REPO / "nomad" / name).read_text(), "Variables": variables})


def _send(nomad: FakeNomad, path: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        nomad.url + path, data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("path", nomad_files(), ids=lambda p: p.name)
def test_every_jobspec_decodes_into_a_well_typed_api_job(path: Any) -> None:
    warnings: list[str] = []
    job = parse_job({"JobHCL": path.read_text(), "Variables": ""}, warnings)
    found = check_json(job, "Job")
    assert not found.errors and not found.warnings and not warnings, found


def test_jobspec_blocks_land_in_the_api_fields_with_go_durations() -> None:
    api = _job("api.nomad.hcl")
    update = api["Update"]
    assert update["MinHealthyTime"] == 15 * SECONDS and update["HealthyDeadline"] == 180 * SECONDS
    assert update["AutoRevert"] is True and update["Canary"] == 1
    (group,) = api["TaskGroups"]
    health = next(c for c in group["Services"][0]["Checks"] if c["Name"] == "health")
    assert health["CheckRestart"] == {"Limit": 3, "Grace": 30 * SECONDS}
    assert health["Interval"] == 10 * SECONDS and health["Timeout"] == 2 * SECONDS
    (task,) = group["Tasks"]
    assert task["KillTimeout"] == 45 * SECONDS and task["Env"]["APP_ENV"] == "production"
    # /metrics on a port of its own (METRICS_PORT), registered as a separate service.
    assert group["Networks"][0]["DynamicPorts"] == [
        {"Label": "http", "To": 8000},
        {"Label": "metrics", "To": 9101},
    ]
    services = {service["Name"]: service for service in group["Services"]}
    assert services["expense-wise-api-metrics"]["PortLabel"] == "metrics"
    assert "metrics" not in services["expense-wise-api"]["Tags"]

    periodic = _job("backup.nomad.hcl")["Periodic"]
    assert periodic == {
        "Specs": ["15 2 * * *"],
        "TimeZone": "UTC",
        "ProhibitOverlap": True,
        "SpecType": "cron",
    }
    assert _job("restore.nomad.hcl")["ParameterizedJob"] == {"MetaRequired": ["backup_id"]}


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("15s", 15 * SECONDS), ("1h30m", 5400 * SECONDS), ("500ms", SECONDS // 2), ("0", 0)],
)
def test_durations_parse_as_go_does(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('grace = "30s"', 'grace_period = "30s"', "Unsupported argument"),
        ('min_healthy_time  = "15s"', 'min_healthy_time  = "15 s"', "invalid duration"),
        ("check_restart {", "check_restart = {", "not an argument"),
        ("canary            = 1", 'canary            = "one"', "unsuitable value"),
    ],
)
def test_jobspecs_nomad_would_refuse_are_refused(old: str, new: str, message: str) -> None:
    jobspec = (REPO / "nomad" / "api.nomad.hcl").read_text()
    assert old in jobspec
    with pytest.raises(JobspecError, match=message):
        parse_job({"JobHCL": jobspec.replace(old, new, 1), "Variables": ""})


def test_a_string_count_answers_400_as_nomad_does(nomad: FakeNomad) -> None:
    nomad.register(_job("worker.nomad.hcl"))
    status, _ = _send(
        nomad, "/v1/job/expense-wise-worker/scale", {"Count": "0", "Target": {"Group": "worker"}}
    )
    assert status == 400
    assert "cannot decode '0' into a Go int" in nomad.errors[0]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"Count": 1, "Target": {}}, 400, "missing task group name"),
        ({"Count": 1, "Target": {"Group": "api"}}, 400, "does not exist"),
        ({"Count": -1, "Target": {"Group": "worker"}}, 400, "can't be negative"),
        ({"Count": 1, "Error": True, "Target": {"Group": "worker"}}, 400, "should not contain"),
        ({"Count": 1, "Target": {"Job": "other", "Group": "worker"}}, 400, "did not match URL"),
        ({"Count": 1, "Target": {"Group": "worker"}}, 200, None),
    ],
)
def test_scale_requests_are_checked_like_nomads(
    nomad: FakeNomad, body: dict[str, Any], status: int, message: str | None
) -> None:
    nomad.register(_job("worker.nomad.hcl"))
    answer, reply = _send(nomad, "/v1/job/expense-wise-worker/scale", body)
    assert answer == status
    if message:
        assert message in reply["error"]


@pytest.mark.parametrize(
    ("job", "body", "message"),
    [
        ("migrate", {"Payload": base64.b64encode(b"x").decode()}, "forbidden"),
        ("restore", {}, "required meta keys: ['backup_id']"),
        ("restore", {"Meta": {"backup_id": "latest", "force": "1"}}, "unpermitted"),
        ("api", {}, "not a parameterized job"),
        ("restore", {"Meta": {"backup_id": "latest"}}, None),
    ],
)
def test_dispatch_applies_the_parameterized_rules(
    nomad: FakeNomad, job: str, body: dict[str, Any], message: str | None
) -> None:
    nomad.register(_job(f"{job}.nomad.hcl"))
    status, reply = _send(nomad, f"/v1/job/expense-wise-{job}/dispatch", body)
    if message is None:
        assert status == 200
        assert reply["DispatchedJobID"].startswith(f"expense-wise-{job}/dispatch-")
    else:
        assert status == 500 and message in reply["error"]


def test_what_nomad_silently_ignores_is_a_warning(nomad: FakeNomad) -> None:
    nomad.register(_job("worker.nomad.hcl"))
    status, _ = _send(
        nomad,
        "/v1/job/expense-wise-worker/scale",
        {"count": 1, "Target": {"Group": "worker"}, "Reason": "typo"},
    )
    assert status == 200
    assert any("Count only by ignoring case" in w for w in nomad.warnings)
    assert any("Reason: no such field" in w for w in nomad.warnings)
    warnings: list[str] = []
    parse_job(
        {
            "JobHCL": (REPO / "nomad" / "worker.nomad.hcl").read_text(),
            "Variables": "api_count = 3",
        },
        warnings,
    )
    assert warnings == ["variable 'api_count' is set but not declared; Nomad ignores it"]
