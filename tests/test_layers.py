"""The package's layers import only downwards: no import cycles, counting imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ziggurat"
#: lowest first (docs/architecture.md); a module may import its own layer and the ones before it
LAYERS = ["version", "errors", "io", "cache", "kernels", "sources", "model", "render", "tiles", "writers", "interop",
          "openslide", "cohort", "ml", "server", "testing", "cli", "__init__"]  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every ziggurat module ``path`` imports, anywhere in the file, resolved to absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ziggurat"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "ziggurat":
                continue
            named = {f"{target}.{a.name}" for a in node.names} & MODULES  # `from . import api`
            found |= named or {target}
    return {m for m in found if m in MODULES and m != name}


def layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_layers_import_downwards() -> None:
    upward = [
        f"{module} -> {dep}"
        for module, deps in sorted(GRAPH.items())
        for dep in sorted(deps)
        if LAYERS.index(layer(dep)) > LAYERS.index(layer(module))
    ]
    assert not upward, "imports that reach up a layer:\n" + "\n".join(upward)


def test_the_graph_is_real() -> None:
    """The checker itself sees imports (a parser that found none would pass everything)."""
    assert "ziggurat.model.level" in GRAPH["ziggurat.model.image"]
    assert "ziggurat.sources.registry" in GRAPH["ziggurat.model.image"]
