"""Columns of a CSV row (lab results), from the de-identified row."""

from __future__ import annotations

import re
from typing import Any

from gateway.projection.common import Columns, Types
from gateway.projection.registry import register

_SAFE_COL = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def project_csv(payload: dict[str, Any]) -> tuple[Columns, Types]:
    cols: Columns = {}
    types: Types = {}
    for k, v in payload.items():
        name = re.sub(r"[^a-z0-9_]", "_", str(k).strip().lower())
        if not _SAFE_COL.match(name) or name in {"record_id", "hospital", "feed", "loaded_at", "payload", "patient_pseudonym"}:
            continue
        cols[name] = None if v in (None, "") else str(v)
        types[name] = "VARCHAR"
    if "value" in cols:
        try:
            cols["value_num"] = float(cols["value"]) if cols["value"] is not None else None
        except ValueError:
            cols["value_num"] = None
        types["value_num"] = "DOUBLE"
    return cols, types


register("csv", project_csv)
