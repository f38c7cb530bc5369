"""Imports go one way: ``data`` is the bottom layer, ``envs`` sits on it, ``generation`` on ``envs``, and the wiring
of which source serves which task (``cs224r.tasks``) above all three. Every import statement counts, including
those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cs224r"
# layer -> packages/modules it must never import (a prefix of the imported module's dotted name)
FORBIDDEN = {
    "cs224r.data": ("cs224r.envs", "cs224r.generation", "cs224r.tasks", "cs224r.fast", "cs224r.agents",
                    "cs224r.critics", "cs224r.policies", "cs224r.infrastructure.rl_trainer",
                    "cs224r.infrastructure.sweep", "cs224r.d4rl"),
    "cs224r.envs": ("cs224r.generation", "cs224r.tasks", "cs224r.fast", "cs224r.agents", "cs224r.critics",
                    "cs224r.policies", "cs224r.infrastructure.rl_trainer", "cs224r.infrastructure.sweep",
                    "cs224r.d4rl"),
    "cs224r.generation": ("cs224r.tasks", "cs224r.fast", "cs224r.infrastructure.rl_trainer",
                          "cs224r.infrastructure.sweep", "cs224r.d4rl"),
    "cs224r.registration": ("cs224r.",),
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, relative imports resolved."""
    tree = ast.parse(path.read_text())
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            out += [(node.lineno, f"{base}.{alias.name}" if base else alias.name) for alias in node.names]
    return out


def violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    root = PACKAGE.parent.joinpath(*layer.split("."))
    files = [root.with_suffix(".py")] if root.with_suffix(".py").exists() else sorted(root.rglob("*.py"))
    found = []
    for path in files:
        for line, name in imports_of(path):
            if any(name == f.rstrip(".") or name.startswith(f if f.endswith(".") else f + ".") or name == f
                   for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones(layer):
    assert violations(layer, FORBIDDEN[layer]) == []


def test_fast_never_imports_the_sweep_layer():
    """The sweeps reach the fast path (``sweep.run_seeds_fast``), never the other way round."""
    assert violations("cs224r.fast", ("cs224r.infrastructure.sweep",)) == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    path = PACKAGE / "data" / "resolve.py"
    names = [name for _, name in imports_of(path)]
    assert "cs224r.data.download.fetch_official" in names
    # what the old data layer did, written here: an import inside a function is found
    fake = tmp_path / "mod.py"
    fake.write_text("def f():\n    from cs224r.envs import get_spec\n")
    tree_imports = [n for n in ast.walk(ast.parse(fake.read_text())) if isinstance(n, ast.ImportFrom)]
    assert tree_imports and tree_imports[0].module == "cs224r.envs"
