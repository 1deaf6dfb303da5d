"""`make mutation`: mutation testing of the core modules, with a score per module.

What is mutated and which tests run is configured in one place, `[tool.mutmut]` in
pyproject.toml (`only_mutate`: the modules; `pytest_add_cli_args_test_selection`: the fast
tests). mutmut runs, for each mutant, only the selected tests that call the mutated function.

A module passes with a score (killed / mutants) of at least MIN_SCORE and every surviving
mutant listed in tests/mutation/equivalent.toml with the reason it cannot be killed: a
mutant is named there by its function and the lines it changes, not by mutmut's number,
so the list survives edits elsewhere in the file.

    python scripts/mutation.py                         # every configured module
    python scripts/mutation.py src/expense_wise/money.py   # only these (must be configured)
    python scripts/mutation.py --changed-since v1.2    # configured modules changed since a ref
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "tests" / "mutation" / "equivalent.toml"
MIN_SCORE = 85.0
SHOWN_SURVIVORS = 15  # diffs printed per failing module; the rest by name
MUTMUT = [sys.executable, "-m", "mutmut"]
# mutmut's exit codes of a mutant's test run (mutmut.stats.status_by_exit_code).
KILLED = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}
SURVIVED = {0, 5, 33}  # passed, or no test ran it


@dataclass
class ModuleResult:
    path: str
    killed: int = 0
    equivalent: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)  # not listed as equivalent
    unchecked: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + len(self.equivalent) + len(self.survivors) + len(self.unchecked)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0

    @property
    def passed(self) -> bool:
        return self.score >= MIN_SCORE and not self.survivors and not self.unchecked


def configured_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules: list[str] = config["only_mutate"]
    missing = [path for path in modules if not (ROOT / path).is_file()]
    if missing:
        sys.exit(
            f"mutation: {', '.join(missing)} not found; a module moved? "
            "Update [tool.mutmut] in pyproject.toml and tests/mutation/equivalent.toml."
        )
    return modules


def module_name(path: str) -> str:
    """src/expense_wise/money.py -> expense_wise.money (mutmut's prefix for its mutants)."""
    return ".".join(Path(path).relative_to("src").with_suffix("").parts)


def changed_since(ref: str, modules: list[str]) -> list[str]:
    changed = subprocess.run(
        ["git", "diff", "--name-only", ref, "--", *modules],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [path for path in modules if path in changed]


def changed_lines(diff: str) -> str:
    """The removed and added lines of a mutant's diff, stripped: its identity."""
    lines = [
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    return "\n".join(lines)


def function_of(mutant: str) -> str:
    """expense_wise.money.x_parse_amount__mutmut_3 -> parse_amount (methods: Class.method)."""
    name = mutant.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[1]
    if "ǁ" in name:  # mutmut names methods xǁClassǁmethod
        _, cls, method = name.split("ǁ")
        return f"{cls}.{method}"
    return name.removeprefix("x_")


def load_equivalents() -> dict[tuple[str, str, str], str]:
    entries = tomllib.loads(EQUIVALENT_FILE.read_text()).get("equivalent", [])
    return {
        (entry["module"], entry["function"], changed_lines(entry["diff"])): entry["reason"]
        for entry in entries
    }


def mutant_diff(mutant: str) -> str:
    shown = subprocess.run(
        [*MUTMUT, "show", mutant], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return shown.stdout


def collect(modules: list[str]) -> tuple[list[ModuleResult], list[str]]:
    equivalents = load_equivalents()
    used: set[tuple[str, str, str]] = set()
    results = []
    for path in modules:
        result = ModuleResult(path)
        meta = ROOT / "mutants" / f"{path}.meta"
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        for mutant, code in sorted(codes.items()):
            if code in KILLED:
                result.killed += 1
            elif code in SURVIVED:
                function = function_of(mutant)
                # `mutmut show` takes a second: ask only where an equivalent is listed.
                listed = any(k[:2] == (path, function) for k in equivalents)
                key = (path, function, changed_lines(mutant_diff(mutant)) if listed else "")
                if key in equivalents:
                    used.add(key)
                    result.equivalent.append(mutant)
                else:
                    result.survivors.append(mutant)
            else:
                result.unchecked.append(mutant)
        results.append(result)
    stale = [
        f"{module} {function}: {lines!r}"
        for module, function, lines in equivalents
        if module in modules and (module, function, lines) not in used
    ]
    return results, stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="configured module paths (default: all)")
    parser.add_argument("--changed-since", metavar="REF", help="only modules changed since REF")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    modules = configured_modules()
    unknown = [path for path in args.modules if path not in modules]
    if unknown:
        sys.exit(f"mutation: not in [tool.mutmut] only_mutate: {', '.join(unknown)}")
    selected = args.modules or modules
    if args.changed_since:
        selected = changed_since(args.changed_since, selected)
        if not selected:
            print(f"mutation: no core module changed since {args.changed_since}")
            return 0

    # A fresh run: mutmut caches results by function hash, but not against changed tests.
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    globs = [f"{module_name(path)}.*" for path in selected]
    run = subprocess.run(
        [*MUTMUT, "run", "--max-children", str(args.max_children), *globs],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # a progress line per mutant, with terminal escapes
    )
    if run.returncode != 0:
        print(f"mutation: mutmut run exited with {run.returncode}", file=sys.stderr)
        return run.returncode

    results, stale = collect(selected)
    print(f"\n{'module':<48} {'mutants':>7} {'killed':>6} {'equiv':>5} {'left':>4} {'score':>6}")
    for result in results:
        left = len(result.survivors) + len(result.unchecked)
        mark = "" if result.passed else "  FAIL"
        print(
            f"{result.path:<48} {result.total:>7} {result.killed:>6} "
            f"{len(result.equivalent):>5} {left:>4} {result.score:>5.1f}%{mark}"
        )
    failed = [result for result in results if not result.passed]
    for result in failed:
        print(f"\n{result.path}: survivors (kill them, or list them in {EQUIVALENT_FILE.name})")
        for mutant in result.survivors[:SHOWN_SURVIVORS]:
            print(mutant_diff(mutant))
        for mutant in result.survivors[SHOWN_SURVIVORS:]:
            print(f"survived: {mutant}  (mutmut show {mutant})")
        for mutant in result.unchecked:
            print(f"not checked: {mutant}")
    for entry in stale:
        print(f"note: listed as equivalent but not a survivor any more: {entry}")
    if failed:
        print(
            f"\nmutation: below {MIN_SCORE:.0f}% or with unexplained survivors: "
            + ", ".join(result.path for result in failed)
        )
        return 1
    print(f"\nmutation: every module at or above {MIN_SCORE:.0f}%, survivors all equivalent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
