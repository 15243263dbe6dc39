"""The package layout: the stages of the pipeline, each importing only those below it, and no
import cycle between modules (imports inside functions included; those only for type checking
left out)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first: a unit may import only units before it (and itself).
LAYERS = (
    "aiusage._version",
    "aiusage.errors",
    "aiusage.bounds",
    "aiusage.store",
    "aiusage.config",
    "aiusage.pricing",
    "aiusage.records",
    "aiusage.engine",
    "aiusage.views",
    "aiusage.output",
    "aiusage.importers",
    "aiusage.workspace",
    "aiusage.api",
    "aiusage",
    "aiusage.cli",
    "aiusage.__main__",
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "aiusage").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(path: Path) -> set[str]:
    """The aiusage modules ``path`` imports, wherever the import stands."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("aiusage"):
                assert child.module is not None
                found.update(f"{child.module}.{a.name}" for a in child.names)
                found.add(child.module)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("aiusage"))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


MODULES = _modules()
GRAPH = {
    name: {m for m in _imports(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def test_every_unit_has_a_layer() -> None:
    assert {_unit(m) for m in MODULES} <= set(LAYERS)


def test_packages_import_only_the_stages_below_them() -> None:
    rank = {unit: i for i, unit in enumerate(LAYERS)}
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if rank[_unit(target)] > rank[_unit(module)]
    )
    assert upward == []


def test_no_import_cycle_between_modules() -> None:
    # A package's __init__ is imported with each of its modules: an edge from a module to its
    # own package is not a cycle of imports.
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in GRAPH.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*path[path.index(nxt) :], nxt])
                return True
            if nxt not in state and visit(nxt, [*path, nxt]):
                return True
        state[node] = 2
        return False

    for start in sorted(graph):
        if start not in state and visit(start, [start]):
            break
    assert cycle == []


def test_few_top_level_modules_and_the_stages_as_subpackages() -> None:
    top = [p.name for p in (SRC / "aiusage").glob("*.py")]
    packages = [p.name for p in (SRC / "aiusage").iterdir() if (p / "__init__.py").is_file()]
    assert len(top) <= 8, top
    assert {"store", "records", "pricing", "engine", "views", "output", "importers", "cli"} <= set(
        packages
    )
