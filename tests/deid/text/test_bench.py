from __future__ import annotations

import pytest

from deid.text.bench import run


@pytest.mark.slow
def test_given_small_run_then_report_compares_both_engines_on_same_notes() -> None:
    report = run(n_notes=15)
    assert report["notes"] == 15
    for key in ("presidio_default_notes_per_s", "ours_notes_per_s", "speedup", "peak_rss_mib"):
        assert report[key] > 0
    # accuracy on the same notes (speed is reported, never asserted)
    assert report["ours_recall"] >= 0.99
    assert report["ours_recall"] > report["presidio_default_recall"]
    assert report["peak_rss_mib"] < 4096
