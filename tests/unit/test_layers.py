"""The layers of DESIGN.md section 2, enforced: a package imports only from the layers below it.

The table of allowed imports lives here and nowhere else. Every module's imports are read from its AST (top-level
and function-level alike), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "driftline"

# Package -> driftline packages it may import (besides itself). Bottom to top.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "datasets": frozenset({"core"}),
    "model": frozenset({"core", "datasets"}),
    "monitors": frozenset({"core", "datasets", "model"}),
    "rollout": frozenset({"core"}),
    "train_jobs": frozenset({"core", "datasets", "model", "monitors"}),
    "serve_apps": frozenset({"core", "datasets", "model", "rollout"}),
    "platform": frozenset({"core", "datasets", "model", "monitors", "rollout", "train_jobs", "serve_apps"}),
}
# The package's own entry points may reach the top.
TOP_LEVEL = {"__init__": frozenset(), "__main__": frozenset({"platform"})}
# Pure code: no Ray, no MLflow, no torch, even lazily.
PURE = ("rollout", "platform/policy")
HEAVY = ("ray", "mlflow", "torch")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]  # a module and an __init__ both resolve relative imports against their folder
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def layer_violations(package_dir: Path = PACKAGE) -> list[str]:
    """Every import a layer may not make, as 'file:line imports module (layer X may import only ...)'."""
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        layer = _layer(path)
        allowed = ALLOWED.get(layer, TOP_LEVEL.get(layer))
        if allowed is None:
            problems.append(f"{path.relative_to(ROOT)}: package {layer!r} is not in the layer table")
            continue
        for line, module in _imports(path):
            head = module.split(".")
            if head[0] != "driftline" or len(head) < 2 or head[1] in (layer,):
                continue
            if head[1] not in allowed:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} imports {module} "
                    f"(layer {layer!r} may import only {sorted(allowed) or 'nothing'} from driftline)"
                )
    return problems


def pure_violations(package_dir: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).as_posix()
        if not rel.startswith(PURE):
            continue
        for line, module in _imports(path):
            if module.split(".")[0] in HEAVY:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module} (pure code: no ray/mlflow/torch)")
    return problems


def test_every_import_respects_the_layer_table() -> None:
    assert layer_violations() == []


def test_rollout_and_the_policy_import_no_ray_mlflow_or_torch() -> None:
    assert pure_violations() == []


def test_a_planted_violation_is_named_with_file_line_and_import(tmp_path: Path) -> None:
    """The check can fail: serving importing training is reported, naming the file and the import."""
    fake = ROOT / "driftline" / "serve_apps" / "_planted_violation.py"
    fake.write_text("from driftline.train_jobs.retrain import run_retrain\nimport torch\n")
    try:
        problems = layer_violations()
    finally:
        fake.unlink()
    assert problems == [
        "driftline/serve_apps/_planted_violation.py:1 imports driftline.train_jobs.retrain (layer 'serve_apps' may "
        "import only ['core', 'datasets', 'model', 'rollout'] from driftline)"
    ]


def test_a_planted_heavy_import_in_the_rollout_machine_is_caught() -> None:
    fake = ROOT / "driftline" / "rollout" / "_planted_violation.py"
    fake.write_text("def f():\n    import mlflow\n")
    try:
        problems = pure_violations()
    finally:
        fake.unlink()
    assert problems == ["driftline/rollout/_planted_violation.py:2 imports mlflow (pure code: no ray/mlflow/torch)"]


@pytest.mark.parametrize(
    ("module", "banned"),
    [
        ("driftline.core.errors", ("numpy", "scipy", "pandas", "pydantic", "ray", "mlflow", "torch")),
        ("driftline.rollout.machine", ("ray", "mlflow", "torch")),
        ("driftline.platform.policy", ("ray", "mlflow", "torch")),
        # The drift job as a user runs it: its import is part of every run (scipy.stats alone costs 0.7 s).
        ("driftline.monitors.drift_job", ("ray", "mlflow", "torch", "scipy.stats")),
    ],
)
def test_importing_a_light_module_loads_nothing_heavy(module: str, banned: tuple[str, ...]) -> None:
    """Run in a fresh interpreter (this one has everything loaded already)."""
    code = f"import sys, {module}; print(','.join(m for m in {banned!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"import {module} loaded {out.stdout.strip()}"
