"""The podman group: the development chart played as pods and checked end to end (`make kube-smoke`).

`make test` sets HDS_KUBE_SMOKE=1 where podman is installed; elsewhere, and in a bare `pytest`, this skips with
the reason. The image is built on first use (helm/image/build.sh, a few minutes) and reused from
$HDS_IMAGE_WORK afterwards while its org.hds.source-digest label matches this checkout (else it is rebuilt).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kube_smoke import run_smoke
from podman_kube import CannotRun, why_podman_cannot_run

pytestmark = [pytest.mark.podman, pytest.mark.slow, pytest.mark.integration]


def test_the_development_chart_plays_as_pods_fills_every_dataset_and_leaks_no_identifier() -> None:
    flag = os.environ.get("HDS_KUBE_SMOKE")
    if flag is None:
        pytest.skip("the podman smoke runs under `make test` (HDS_KUBE_SMOKE=1 where podman is installed) "
                    "or `make kube-smoke`")
    reason = why_podman_cannot_run()
    if flag != "1" or reason:
        pytest.skip(f"podman smoke skipped: {reason or 'HDS_KUBE_SMOKE=' + flag}")
    work = Path(os.environ.get("HDS_IMAGE_WORK") or Path(tempfile.gettempdir()) / "hds-image")
    try:
        summary = run_smoke(work=work, build=False, timeout_s=600)
    except CannotRun as exc:
        pytest.skip(f"podman smoke cannot run here: {exc}")
    assert summary["failed_checks"] == []
    assert summary["ok"] is True
    assert set(summary["rows"]) >= {"admissions", "lab_reports", "clinical_records", "lab_results"}
    assert summary["messages_published"] == sum(summary["rows"].values()) + summary["dead_lettered"]


def test_a_planted_leak_is_caught_by_both_leak_checks_of_the_smoke() -> None:
    """Check the checker: the same deployment with a policy that keeps patients' names must fail exactly the two
    leak checks (the API answers and the DuckDB file), each finding names."""
    flag = os.environ.get("HDS_KUBE_SMOKE")
    reason = why_podman_cannot_run()
    if flag != "1" or reason:
        pytest.skip(f"podman smoke skipped: {reason or 'HDS_KUBE_SMOKE is not 1 (make test sets it where podman is installed)'}")
    work = Path(os.environ.get("HDS_IMAGE_WORK") or Path(tempfile.gettempdir()) / "hds-image")
    try:
        summary = run_smoke(work=work, build=False, timeout_s=600, plant_leak=True)
    except CannotRun as exc:
        pytest.skip(f"podman smoke cannot run here: {exc}")
    assert summary["failed_checks"] == ["no synthetic identifier in what the API returns",
                                        "no synthetic identifier in the DuckDB file"]
    assert summary["api_identifier_leaks"]["names"] > 0 and summary["file_identifier_leaks"]["names"] > 0
    assert summary["planted_leak_caught"] is True
