from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import (
    EXPENSE_WISE,
    PASSWORD,
    create_database,
    database_url,
    drop_database,
    free_port,
    live_server,
    process_env,
)


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


def fresh_checkout_env(tmp_path: Path) -> dict[str, str]:
    """The embedded default in a directory where nothing has run yet: no DATA_DIR on disk."""
    data_dir = tmp_path / "checkout" / "var"
    assert not data_dir.exists()
    return {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}


def test_migrate_on_a_fresh_checkout_creates_the_data_directory(tmp_path):
    env = fresh_checkout_env(tmp_path)
    migrated = run_cli(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "Traceback" not in migrated.stderr
    assert "(was empty)" in migrated.stdout
    assert (Path(env["DATA_DIR"]) / "expense-wise.db").is_file()
    again = run_cli(env, "migrate")
    assert again.returncode == 0 and "(was empty)" not in again.stdout


def test_create_user_first_on_a_fresh_checkout_then_log_in(tmp_path):
    env = fresh_checkout_env(tmp_path)
    created = run_cli(env, "create-user", "First@Example.com", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "created user first@example.com" in created.stdout
    with live_server(env) as (base, _process):
        status, body = post_json(
            f"{base}/api/v1/auth/login", {"email": "first@example.com", "password": PASSWORD}
        )
    assert status == 200 and body["access_token"]


REFUSED_REGISTRATIONS = [
    ("not-an-email", PASSWORD, "email"),
    ("ada@localhost", PASSWORD, "email"),
    ("two words@example.com", PASSWORD, "email"),
    ("x" * 310 + "@example.com", PASSWORD, "email"),
    ("ada@example.com", "short", "password"),
    ("ada@example.com", "password1234", "password"),
    ("adalovelace@example.com", "adalovelace-99", "password"),
    ("ada@example.com", "x" * 129, "password"),
]


async def test_create_user_refuses_exactly_what_the_api_refuses(sqlite_client, tmp_path):
    env = fresh_checkout_env(tmp_path)
    for email, password, field in REFUSED_REGISTRATIONS:
        api = await sqlite_client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        assert api.status_code == 422, (email, api.text)
        assert field in {error["field"] for error in api.json()["errors"]} | {
            api.json()["detail"].split(":")[0]
        }
        cli = run_cli(env, "create-user", email, stdin=password + "\n")
        assert cli.returncode == 1, (email, cli.stdout)
        assert cli.stderr.startswith(f"Error: {field}: "), cli.stderr
        assert "Traceback" not in cli.stderr
    # A refused address never reached the database: a fresh checkout has none.
    assert not Path(env["DATA_DIR"]).exists()
    accepted = await sqlite_client.post(
        "/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert accepted.status_code == 201
    cli = run_cli(env, "create-user", "ada@example.com", stdin=PASSWORD + "\n")
    assert cli.returncode == 0, cli.stderr


def test_create_user_on_an_unmigrated_or_unreachable_server_database_says_what_to_do(base_env):
    name = create_database("ew_unmigrated")
    try:
        empty = {**base_env, "DATABASE_URL": database_url(name)}
        refused = run_cli(empty, "create-user", "ops@example.com", stdin=PASSWORD + "\n")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "run `expense-wise migrate` first" in refused.stderr
    finally:
        drop_database(name)
    closed = {**base_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/none"}
    unreachable = run_cli(closed, "create-user", "ops@example.com", stdin=PASSWORD + "\n")
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert "cannot reach the database" in unreachable.stderr
