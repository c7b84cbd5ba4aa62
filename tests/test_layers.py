"""The package layering: no module imports from a layer above its own.

Layers, lowest first: core, frontier, ops -> models -> genotypes -> evaluation ->
search_spaces, strategies, compress -> runs -> cli. A module may import its own layer and
any below it. The imports are read from the source (every ``import`` statement, at module or
function level), so the rule also holds for imports made lazily.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "nas_sepconv.core": 0, "nas_sepconv.frontier": 0, "nas_sepconv.ops": 1, "nas_sepconv.models": 2,
    "nas_sepconv.genotypes": 3, "nas_sepconv.evaluation": 4, "search_spaces": 5, "strategies": 5,
    "nas_sepconv.compress": 5, "nas_sepconv.runs": 6, "nas_sepconv.cli": 7, "nas_sepconv": 8,
}
PACKAGES = ("nas_sepconv", "search_spaces", "strategies")


def layer_of(module: str) -> tuple[str, int] | None:
    """The longest LAYERS prefix of ``module`` and its rank (None for third-party modules)."""
    best = None
    for prefix in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best):
                best = prefix
    return None if best is None else (best, LAYERS[best])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((node.lineno, target))
            # `from pkg import submodule` imports the submodule too.
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def upward_imports(path: Path) -> list[str]:
    name = module_name(path)
    own = layer_of(name)
    bad = []
    for line, target in imported_modules(path, name):
        other = layer_of(target)
        if own and other and other[1] > own[1] and not target.startswith(name + ".") and name != "nas_sepconv._compat":
            bad.append(f"{path.relative_to(ROOT)}:{line} ({own[0]}) imports {target} ({other[0]})")
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_import(path: Path) -> None:
    assert upward_imports(path) == []


def test_every_module_has_a_layer() -> None:
    assert [str(p) for p in SOURCES if layer_of(module_name(p)) is None] == []


def test_the_checker_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An independent planted case: an ops module that imports the runs layer is caught."""
    fake = ROOT / "nas_sepconv" / "ops" / "_planted_for_test.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from nas_sepconv.runs import job\n"
                        if self == fake else Path.read_bytes(self).decode())
    assert upward_imports(fake) == [
        "nas_sepconv/ops/_planted_for_test.py:1 (nas_sepconv.ops) imports nas_sepconv.runs (nas_sepconv.runs)",
        "nas_sepconv/ops/_planted_for_test.py:1 (nas_sepconv.ops) imports nas_sepconv.runs.job (nas_sepconv.runs)",
    ]
