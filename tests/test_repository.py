"""Checks of the repository itself: pinned installs, layering, module sizes, the README."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_by_the_constraints_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pinned[_name(name)] = version
    assert wanted <= set(pinned), f"not pinned (run make lock): {sorted(wanted - set(pinned))}"


# -- layering: the tree reads as the pipeline ---------------------------------------------------

#: What each package may import of ours. ``query_api`` never imports ``ingest`` or ``enrich``;
#: ``schemas`` (the contracts) imports nothing but itself.
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),
    "enrich": {"schemas"},
    "ingest": {"schemas", "enrich"},
    "query_api": {"schemas"},
    "deploy": {"schemas"},
    # Reads the enriched stream the worker writes, through the contracts only.
    "webhooks": {"schemas"},
    # The command line sits above every stage; nothing of ours imports it.
    "vh": {"schemas", "enrich", "ingest", "query_api", "deploy", "webhooks"},
    # The benchmarks drive everything (and import no test).
    "bench": {"schemas", "enrich", "ingest", "query_api", "deploy", "webhooks", "vh"},
}


def _imports(path: Path) -> set[str]:
    """Every module of ours ``path`` imports, at any depth (function-level imports too)."""

    found: set[str] = set()
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in {*ALLOWED, "tests"}}


def _modules() -> dict[str, Path]:
    out = {}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def test_packages_import_only_the_layers_below_them() -> None:
    wrong = []
    for name, path in _modules().items():
        own = name.split(".")[0]
        for target in _imports(path):
            other = target.split(".")[0]
            if other != own and other not in ALLOWED[own]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_module_import_graph_has_no_cycle() -> None:
    modules = _modules()
    graph = {
        name: {t for t in _imports(path) if t in modules and t != name}
        for name, path in modules.items()
    }
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_readme_configuration_table_is_the_declarations() -> None:
    from vh import settings

    readme = (ROOT / "README.md").read_text()
    assert settings.rewrite(readme) == readme, "README settings table is stale: run make docs"


#: The shape #12 set: small modules and classes in the pipeline's packages (the benchmarks'
#: report writers are long tables of prose and are left out).
MAX_MODULE_LINES, MAX_CLASS_LINES = 300, 200


def test_modules_and_classes_stay_small() -> None:
    big = []
    for name, path in _modules().items():
        if name.split(".")[0] == "bench":
            continue
        text = path.read_text(encoding="utf-8")
        if (lines := text.count("\n")) > MAX_MODULE_LINES:
            big.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    big.append(f"{name}.{node.name}: a {length}-line class")
    assert not big, "split these by responsibility:\n" + "\n".join(sorted(big))
