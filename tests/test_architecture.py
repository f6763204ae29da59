"""The layers contract in pyproject.toml holds, and a planted upward import breaks it (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("deid", "policies", "gateway", "catalog")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the packages under `root`, not the installed ones
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_code_keeps_every_import_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    shutil.copy(REPO / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.json",
                                                                                          "*.js", "*.css", "*.html"))
    return root


# (module that gets the import, the import, the forbidden edge lint-imports must name)
UPWARD = [
    ("deid/risk.py", "from policies.settings import Settings", "deid.risk -> policies.settings"),
    ("deid/hl7.py", "import duckdb", "deid.hl7 -> duckdb"),
    ("policies/topics.py", "from gateway.kafka_io import make_producer", "policies.topics -> gateway.kafka_io"),
    ("gateway/publish.py", "from catalog.store import CatalogStore", "gateway.publish -> catalog.store"),
    ("catalog/store.py", "from catalog.cli.main import main", "catalog.store -> catalog.cli.main"),
    ("catalog/routes/query.py", "from catalog.server import serve", "catalog.routes.query -> catalog.server"),
]


@pytest.mark.parametrize(("module", "statement", "edge"), UPWARD, ids=[u[2] for u in UPWARD])
@pytest.mark.parametrize("inside_a_function", [False, True], ids=["module-level", "in-function"])
def test_given_a_planted_upward_import_then_lint_imports_fails_naming_it(
    copy_of_the_code: Path, module: str, statement: str, edge: str, inside_a_function: bool
) -> None:
    target = copy_of_the_code / module
    original = target.read_text(encoding="utf-8")
    planted = f"\n\ndef _planted() -> None:\n    {statement}\n" if inside_a_function else f"\n{statement}\n"
    target.write_text(original + planted, encoding="utf-8")
    try:
        result = lint_imports(copy_of_the_code)
    finally:
        target.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert edge in result.stdout
