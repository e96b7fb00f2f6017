"""The house by wings (docs/architecture.md): the tree shows the architecture, and the arrows
between the wings point one way. This test walks every module under hub/ and fails on an
import that points back up, on a loop between modules, and on a module over the line cap."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
LINE_CAP = 420
"""About 400 lines: a module longer than that holds more than one idea."""

SIDES = ("hub.upstream", "hub.issuer")
BELOW_WEB = ("hub.core", "hub.upstream", "hub.issuer", "hub.actions", "hub.console")
FRAMEWORK = ("flask", "werkzeug", "hub.web", "hub.cli", "hub.runtime")
V1_NAMES_OF_UPSTREAM = ("hub.oidc", "hub.provider", "hub.http")
"""The v1 plugin names that are aliases of upstream modules (hub.errors is the core's)."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(HUB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every hub module or third-party top-level package `path` imports, at any depth (an
    import inside a function is still an arrow), except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _exists(candidate) else base)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split("."))
    return (HUB.parent / relative).with_suffix(".py").exists() or (HUB.parent / relative / "__init__.py").exists()


KNOWN_DEBTS: set[str] = set()
"""Arrows the move into wings found, each removed by the change that fixed it (the set only
shrinks: a test fails when an entry no longer exists, so a fix must delete it here). Empty: every
arrow the move found is gone; keep it empty."""
OVERSIZE: dict[str, int] = {}
"""Modules over the cap, with their length when listed: each to be split by concept (the cap
applies again the moment one shrinks under it). Empty since the house was split; keep it empty."""

SOURCES = {_module_name(p): p for p in sorted(HUB.rglob("*.py"))}
GRAPH = {name: _imports(path) for name, path in SOURCES.items()}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _all_arrows(source_prefixes: tuple[str, ...], target_prefixes: tuple[str, ...]) -> set[str]:
    return {
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if _within(name, source_prefixes)
        for target in targets
        if _within(target, target_prefixes)
    }


def _arrows(source_prefixes: tuple[str, ...], target_prefixes: tuple[str, ...]) -> list[str]:
    """The arrows from one group of wings to another that are not known debts."""
    return sorted(_all_arrows(source_prefixes, target_prefixes) - KNOWN_DEBTS)


def test_every_known_debt_still_exists():
    """A fixed debt leaves KNOWN_DEBTS in the same change, so the list says what is left."""
    everything = _all_arrows(("hub",), ("hub", "flask", "werkzeug"))
    assert sorted(KNOWN_DEBTS - everything) == []


def test_the_core_imports_neither_side_nor_anything_above_it():
    above = (*SIDES, *V1_NAMES_OF_UPSTREAM, "hub.actions", "hub.console", "hub.web", "hub.plugin", "hub.cli", "hub.runtime")
    assert _arrows(("hub.core",), above) == []


def test_the_two_sides_never_import_each_other():
    assert _arrows(("hub.upstream",), ("hub.issuer",)) == []
    assert _arrows(("hub.issuer",), ("hub.upstream", *V1_NAMES_OF_UPSTREAM)) == []


def test_nothing_below_web_and_cli_imports_flask_or_the_runtime():
    assert _arrows(BELOW_WEB, FRAMEWORK) == []


def test_the_console_reads_and_the_actions_change():
    """console/ holds read models; a change goes through actions/ (one implementation, every
    front door), which no wing below imports."""
    assert _arrows(("hub.console",), ("hub.actions",)) == []
    assert _arrows(("hub.core", *SIDES), ("hub.actions",)) == []


def test_no_import_loops_between_hub_modules():
    """Module-level imports only: a loop among them is an arrow pointing back up somewhere."""
    import sys

    sys.setrecursionlimit(10_000)
    graph = {name: {t for t in GRAPH[name] if t in SOURCES and t != name and not _is_alias(t)} for name in SOURCES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert loops == []


def _is_alias(name: str) -> bool:
    """v1 names are aliases of moved modules (hub/oidc/__init__.py and the like), not modules."""
    return "sys.modules[__name__]" in SOURCES[name].read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_is_over_the_line_cap(name):
    lines = len(SOURCES[name].read_text(encoding="utf-8").splitlines())
    if name in OVERSIZE:
        assert LINE_CAP < lines <= OVERSIZE[name], f"{name}: under the cap now (drop it from OVERSIZE) or grown"
        return
    assert lines <= LINE_CAP, f"{SOURCES[name].relative_to(HUB.parent)} has {lines} lines: split it by concept"
