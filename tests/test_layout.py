"""The folders say what the import graph says, and the graph keeps to them.

Each package of ``gateway`` and ``signing`` is a room with one job; its
``__all__`` names its doors, the modules other rooms may import. These
tests read every import (as the source says it, not by running it) and
fail when a plugin reaches past the contract, a room is entered other than
by a door, ``signing`` leans on the gateway, or two rooms import each other.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(source: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, imported name or None) for every absolute import in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _target(module: str, name: str | None) -> str:
    """The module an import reaches: ``from a.b import c`` reaches ``a.b.c`` when that is a module."""
    return f"{module}.{name}" if name and _is_module(f"{module}.{name}") else module


def _room(module: str) -> str:
    """A module's room: its top-level package and first folder (``gateway.delivery``), or itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _core_imports_of(paths: Iterator[Path]) -> list[str]:
    found = []
    for path in paths:
        for line, module, name in _imports(path.read_text(encoding="utf-8")):
            reached = _target(module, name)
            if reached.split(".")[0] == "gateway" and reached not in {"gateway.contract"}:
                found.append(f"{path}:{line} imports {reached}")
    return found


def test_a_plugin_imports_nothing_of_the_core_but_the_contract() -> None:
    found = _core_imports_of(_sources("plugins"))
    assert found == [], "plugins may import gateway.contract only:\n" + "\n".join(found)


def test_a_new_plugin_from_the_scaffold_imports_only_the_contract_outside_its_tests(tmp_path: Path) -> None:
    from gateway.cli.new_plugin.scaffold import scaffold

    written = scaffold("civil_affairs", tmp_path / "onewindow-civil_affairs")
    package = [p for p in written if p.suffix == ".py" and "tests" not in p.relative_to(tmp_path).parts]
    assert package, "the scaffold wrote no package modules"
    found = _core_imports_of(iter(package))
    assert found == [], "\n".join(found)


def test_the_plugin_rule_catches_an_import_of_the_core(tmp_path: Path) -> None:
    forged = tmp_path / "plugin.py"
    source = (ROOT / "plugins/tax/plugin.py").read_text(encoding="utf-8")
    forged.write_text(source + "\nfrom gateway.intake import router\n", encoding="utf-8")
    assert [found.rsplit(" ", 1)[-1] for found in _core_imports_of(iter([forged]))] == ["gateway.intake.router"]


def _doors(package: str) -> set[str]:
    return set(getattr(importlib.import_module(package), "__all__", ()))


def test_every_import_between_rooms_goes_through_a_door() -> None:
    wrong = []
    for path in _sources("gateway", "signing"):
        here = _module_of(path)
        for line, module, name in _imports(path.read_text(encoding="utf-8")):
            reached = _target(module, name)
            if reached.split(".")[0] not in ("gateway", "signing") or _room(reached) == _room(here):
                continue
            parent, _, last = reached.rpartition(".")
            if reached.count(".") < 2 or not _is_module(parent) or parent.count(".") < 1:
                continue  # a top-level module (gateway.contract, signing.model) or a package itself
            if last not in _doors(parent):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {reached}, not in {parent}.__all__")
    assert wrong == [], "\n".join(wrong)


def test_signing_imports_nothing_from_the_gateway() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("signing")
        for line, module, _ in _imports(path.read_text(encoding="utf-8"))
        if module.split(".")[0] == "gateway"
    ]
    assert found == [], "\n".join(found)


def _room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources("gateway", "signing"):
        here = _room(_module_of(path))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = {
            getattr(n, "lineno", -1)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        for line, module, name in _imports(path.read_text(encoding="utf-8")):
            reached = _room(_target(module, name))
            if reached.split(".")[0] in ("gateway", "signing") and reached != here and line not in type_only:
                graph[here].add(reached)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one room (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for other in graph.get(room, ()):
            if other not in index:
                visit(other)
                low[room] = min(low[room], low[other])
            elif other in stack:
                low[room] = min(low[room], index[other])
        if low[room] == index[room]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == room:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for room in list(graph):
        if room not in index:
            visit(room)
    return found


def test_no_two_rooms_import_each_other() -> None:
    assert _cycles(_room_graph()) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
