"""The dependency rules of docs/architecture.md, read from the code."""

from __future__ import annotations

from scripts.import_graph import check


def test_no_import_loops_and_no_forbidden_imports():
    report = check()
    assert report.module_loops == []
    assert report.domain_loops == []
    assert report.forbidden == []
