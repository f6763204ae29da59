"""Research columns for the catalog, projected from a record AFTER de-identification.

Only the de-identified payload is read here, so nothing the de-identification removed can reach a column.
Each projector returns (columns, column_types); the catalog adds the columns to the dataset's table as they
appear. Values that do not parse are left empty rather than guessed.
One module per feed format (``hl7v2``, ``fhir``, ``csv``), each registering its projector by format name.
"""

from __future__ import annotations

from typing import Any

from gateway.projection import csv, fhir, hl7v2  # noqa: F401 - each module registers its projector
from gateway.projection.common import Columns, Types
from gateway.projection.registry import formats, projector_for, register

__all__ = ["Columns", "Types", "formats", "project", "projector_for", "register"]


def project(format: str, payload: Any) -> tuple[Columns, Types]:
    return projector_for(format)(payload)
