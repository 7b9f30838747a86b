"""The deploy tool's shape: a package whose modules import one another in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import tools.deploy

PACKAGE = Path(tools.deploy.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the modules of this package it imports (at run time or for type checking alike)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        found[name] = {target for target in targets if target in modules and target != name}
    return found


def test_the_deploy_package_has_no_import_circle() -> None:
    graph = _imports()
    assert len(graph) >= 10  # cli, plan, tccli, desired, resources (base, cam, cls, scf, monitor)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        if module in done:
            return
        visiting.append(module)
        for target in sorted(graph[module]):
            # A package importing its own submodules (resources/__init__ gathering them) is its face, not a circle.
            if not target.startswith(module + "."):
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_each_service_has_its_own_resource_module() -> None:
    names = {path.stem for path in (PACKAGE / "resources").glob("*.py")}
    assert {"cam", "cls", "scf", "monitor", "base"} <= names
