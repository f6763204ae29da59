"""The README's governed-access commands, run as written (bash, curl, `hds token`) against the real pipeline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_kit import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("Governed access, end to end")
    return re.search(r"```sh\n(.*?)```", text[start:], re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl")
def test_given_the_readme_then_its_access_commands_work_as_written(pipeline: Pipeline, tmp_path: Path) -> None:
    script = readme_block().replace("API=http://127.0.0.1:8000", f"API={pipeline.catalog.url}")
    # A researcher of their own: the README is written for a fresh demo, while in this session other tests query as
    # rita and add admissions (one history per researcher would rightly refuse a repeat over a changed population).
    script = script.replace("--user rita ", "--user rita-readme ")
    # `.venv/bin/hds` as the README says when the suite runs from the project's .venv; else this interpreter's hds
    hds = REPO / ".venv" / "bin" / "hds"
    if not hds.exists() or Path(sys.executable).resolve().parent != hds.parent.resolve():
        shim = tmp_path / "bin"
        shim.mkdir()
        (shim / "hds").write_text(f"#!/bin/sh\nexec {sys.executable} -m catalog.cli.main \"$@\"\n")
        (shim / "hds").chmod(0o755)
        script = script.replace(".venv/bin/hds", str(shim / "hds"))
    lines = [f"echo '--- step {i}'; " + line if line.startswith("# ") and line[2].isdigit() else line
             for i, line in enumerate(script.splitlines())]
    env = {**os.environ, "HDS_DATA_DIR": str(pipeline.settings.data_dir), "HDS_ENV": "test"}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], capture_output=True, text=True,
                         timeout=180, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    steps = [s.strip() for s in re.split(r"--- step \d+", out.stdout)[1:]]
    query, refused, verify = json.loads(steps[2]), json.loads(steps[3]), json.loads(steps[4])
    assert "columns" in query, query
    assert query["columns"] == ["ward", "n"] and query["suppressed"] > 0
    assert "not granted" in refused["detail"]
    assert verify["ok"] is True
