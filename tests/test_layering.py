"""The package's layering: every subpackage imports only from strictly lower layers (or from
itself), function-local imports included, and module-level imports form no cycle.

Adding a subpackage means adding it to LAYERS (docs/CONTRIBUTING.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "nervp"

# low to high; a unit is a subpackage (nervp/x/) or a top-level module (nervp/x.py)
LAYERS: list[set[str]] = [
    {"errors"},
    {"fileio", "progress", "colour", "device"},
    {"imaging", "lightstage", "render", "face"},
    {"structures"},
    {"store"},
    {"viz", "synth"},
    {"capture", "parse", "relight"},
    {"composite", "model", "view", "estimate"},
    {"train"},
    {"reenact"},
    {"evaluate", "live"},
    {"demo", "benchmark"},
    {"presets"},
    {"cli"},
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(path: Path, module: str, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, imported nervp module) for every import in the file (absolute or relative)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("nervp.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("nervp."):
                found.append((node.lineno, target))
    return found


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _modules()} - {None}
    assert units <= set(LAYER), f"add these to LAYERS in tests/test_layering.py: {sorted(units - set(LAYER))}"


def test_no_upward_or_sideways_import():
    bad = []
    for module, path in _modules().items():
        unit = _unit(module)
        if unit is None:  # the package root re-exports the public API lazily
            continue
        for line, target in _imports(path, module, top_level_only=False):
            other = _unit(target)
            if other is not None and other != unit and LAYER.get(other, 99) >= LAYER[unit]:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} ({unit}, layer {LAYER[unit]}) imports "
                           f"{target} ({other}, layer {LAYER.get(other)})")
    assert not bad, "imports that run up or across the layers:\n" + "\n".join(bad)


def test_no_import_cycle():
    mods = _modules()
    graph = {m: {t for _, t in _imports(p, m, top_level_only=True) if t in mods and t != m} for m, p in mods.items()}
    for m in mods:  # `import a.b.c` also runs a/__init__ and a/b/__init__: not an edge we count
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(mods):
        if m not in state and (cycle := visit(m)):
            raise AssertionError("module-level import cycle: " + " -> ".join(cycle))


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker finds function-local and relative imports (the test above cannot pass vacuously)."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from nervp.cli import main\n    from ..train import run\n")
    got = [t for _, t in _imports(src, "nervp.store.mod", top_level_only=False)]
    assert got == ["nervp.cli", "nervp.train"]


MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _long_units(src: str, name: str) -> list[str]:
    tree = ast.parse(src)
    out = []
    n_lines = len(src.splitlines())
    if n_lines > MAX_MODULE_LINES:
        out.append(f"{name}: {n_lines} lines (at most {MAX_MODULE_LINES}; split it by what it does)")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{name}:{node.lineno} {node.name}: {n} lines (at most {MAX_FUNCTION_LINES})")
    return out


def test_modules_and_functions_stay_small():
    """CONTRIBUTING.md's size limits: no module over 450 lines, no function over 80."""
    bad = [msg for p in sorted(ROOT.rglob("*.py")) for msg in _long_units(p.read_text(), str(p.relative_to(ROOT)))]
    assert not bad, "\n".join(bad)


def test_the_size_check_sees_a_long_function():
    body = "def f():\n" + "    x = 1\n" * 80
    assert _long_units(body, "m.py") == ["m.py:1 f: 81 lines (at most 80)"]
    assert _long_units("x = 1\n" * 451, "m.py")[0].startswith("m.py: 451 lines")
