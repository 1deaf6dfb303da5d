"""The dependency rules of docs/architecture.md, read from the code."""

from __future__ import annotations

from pathlib import Path

from scripts.import_graph import ROOT, check

# A module past this many lines mixes responsibilities; split it along its seams.
MAX_MODULE_LINES = 450


def test_no_import_loops_and_no_forbidden_imports():
    report = check()
    assert report.module_loops == []
    assert report.domain_loops == []
    assert report.forbidden == []


def test_every_module_under_src_is_shorter_than_the_limit():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in Path(ROOT).rglob("*.py")
    }
    too_long = {path: lines for path, lines in sizes.items() if lines >= MAX_MODULE_LINES}
    assert too_long == {}
