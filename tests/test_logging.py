"""Log output: development's readable lines show a plain traceback, without the local
variables of each frame (which redaction cannot reach)."""

from __future__ import annotations

import pytest

from expense_wise.logging import configure_logging, get_logger


def fail_with_a_password_in_scope(depth: int) -> None:
    password = "Local-Secret-Value-9"
    if depth == 0:
        raise RuntimeError(f"failed after checking {len(password)} characters")
    fail_with_a_password_in_scope(depth - 1)


@pytest.mark.parametrize("json_output", [False, True])
def test_a_logged_exception_shows_no_local_variables(capsys, json_output: bool) -> None:
    configure_logging("INFO", json_output=json_output)
    try:
        fail_with_a_password_in_scope(20)
    except RuntimeError:
        get_logger("test").exception("unhandled error")
    configure_logging("WARNING", json_output=False)
    output = capsys.readouterr().err
    assert "RuntimeError: failed after checking 20 characters" in output
    assert "fail_with_a_password_in_scope" in output
    assert "Local-Secret-Value-9" not in output
