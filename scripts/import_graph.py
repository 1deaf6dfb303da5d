"""The import graph of src/expense_wise, read from the code with `ast`, and the layer rules.

    python -m scripts.import_graph          # print loops and forbidden imports; exit 1 if any

Every import counts, function-local ones and those under TYPE_CHECKING too: a loop hidden in
a function is still a loop a reader has to untangle. Checked:
- no loop between modules, and none between domains (domain/<name>/ as one node);
- no domain imports another domain's controllers;
- the job runtime (expense_wise/runtime/) imports no domain, and domains import nothing of
  it but the queue protocol (runtime/queue.py).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "expense_wise"
RUNTIME = f"{PACKAGE}.runtime"
QUEUE_PROTOCOL = f"{RUNTIME}.queue"
DOMAIN = f"{PACKAGE}.domain"

Graph = dict[str, set[str]]


@dataclass(frozen=True)
class Report:
    module_loops: list[list[str]]
    domain_loops: list[list[str]]
    forbidden: list[str]

    @property
    def clean(self) -> bool:
        return not (self.module_loops or self.domain_loops or self.forbidden)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterable[str]:
    """The first-party modules one import statement names."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            # `from package import module` names the module; `from module import name` the module.
            candidate = f"{source}.{alias.name}"
            yield candidate if candidate in known else source


def import_graph(root: Path = ROOT) -> Graph:
    files = {module_name(path, root): path for path in sorted((root / PACKAGE).rglob("*.py"))}
    known = set(files)
    graph: Graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(tree):
            for name in _imported(node, module, is_package, known):
                # `import a.b.c` of a name that is not a module: the nearest module above it.
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def loops(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def domain_of(module: str) -> str | None:
    """`expense_wise.domain.expenses.services` -> `expenses`."""
    if not module.startswith(f"{DOMAIN}."):
        return None
    return module.split(".")[2]


def domain_graph(graph: Mapping[str, set[str]]) -> Graph:
    collapsed: Graph = {}
    for module, targets in graph.items():
        source = domain_of(module)
        if source is None:
            continue
        for target in targets:
            other = domain_of(target)
            if other is not None and other != source:
                collapsed.setdefault(source, set()).add(other)
    return collapsed


def forbidden_imports(graph: Mapping[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        domain = domain_of(module)
        for target in sorted(targets):
            other = domain_of(target)
            if domain and other and other != domain and target.endswith(".controllers"):
                problems.append(f"{module} -> {target}: another domain's controllers")
            if domain and target.startswith(RUNTIME) and target != QUEUE_PROTOCOL:
                problems.append(f"{module} -> {target}: domains use only the queue protocol")
            if module.startswith(RUNTIME) and other:
                problems.append(f"{module} -> {target}: the job runtime knows no domain")
    return problems


def check(root: Path = ROOT) -> Report:
    graph = import_graph(root)
    return Report(loops(graph), loops(domain_graph(graph)), forbidden_imports(graph))


def main() -> int:
    report = check()
    for title, found in (("module", report.module_loops), ("domain", report.domain_loops)):
        print(f"{title} loops: {len(found)}")
        for number, members in enumerate(found, 1):
            print(f"  {number}. ({len(members)}) {', '.join(members)}")
    print(f"forbidden imports: {len(report.forbidden)}")
    for problem in report.forbidden:
        print(f"  {problem}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
