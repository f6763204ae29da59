"""Paths the structured de-identification tests share (importable from test modules)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "policies" / "deid"
DOCS = REPO / "docs"
SHARED_DATA = REPO.parent / "shared" / "data"
