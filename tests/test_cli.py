from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import EXPENSE_WISE, PASSWORD, live_server, process_env


def run_cli(env, *args, stdin=None):
    return subprocess.run(
        [EXPENSE_WISE, *args],
        env=process_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def post_json(url, body, headers=None):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def test_help_lists_every_process_type():
    result = subprocess.run([EXPENSE_WISE, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "worker", "migrate", "create-user", "healthcheck"):
        assert command in result.stdout


def test_migrate_and_create_user_from_stdin(base_env):
    migrated = run_cli(base_env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "revision" in migrated.stdout
    created = run_cli(
        base_env, "create-user", "ops@example.com", "--name", "Ops", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    assert "ops@example.com" in created.stdout
    again = run_cli(base_env, "create-user", "ops@example.com", stdin=PASSWORD + "\n")
    assert again.returncode != 0
    assert "already exists" in again.stderr
    weak = run_cli(base_env, "create-user", "weak@example.com", stdin="short\n")
    assert weak.returncode != 0 and "password" in weak.stderr


def test_worker_without_redis_explains_itself(sqlite_env):
    result = run_cli(sqlite_env, "worker")
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr


def test_serve_finishes_in_flight_requests_on_sigterm(base_env):
    created = run_cli(base_env, "create-user", "drain@example.com", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    with live_server(base_env) as (base, process):
        assert run_cli(base_env, "healthcheck", "--url", f"{base}/health").returncode == 0
        results: list[int] = []

        def slow_login() -> None:
            # Argon2 verification makes login take a noticeable moment: it is in flight
            # when SIGTERM arrives.
            status, _ = post_json(
                f"{base}/api/v1/auth/login", {"email": "drain@example.com", "password": PASSWORD}
            )
            results.append(status)

        threads = [threading.Thread(target=slow_login) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=30)
        assert process.wait(timeout=30) == 0
        assert results == [200, 200, 200]


def test_serve_on_the_embedded_default_says_what_it_runs_on(sqlite_env):
    with live_server({**sqlite_env, "LOG_LEVEL": "INFO"}) as (base, process):
        status, _body = post_json(
            f"{base}/api/v1/auth/register", {"email": "e@example.com", "password": PASSWORD}
        )
        assert status == 201
        process.terminate()
        process.wait(timeout=30)
        output = Path(process.output_path).read_text()
    assert "database=sqlite" in output and "jobs=in-process" in output
