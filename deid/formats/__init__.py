"""Format handlers: HL7 v2, FHIR R4 and CSV rows, each driven by a validated profile section and registered
by name in `deid.formats.registry` (importing this package registers the three)."""

from deid.formats import csv_row, fhir, hl7v2  # noqa: F401 - each module registers its adapter
from deid.formats.registry import FormatAdapter, adapter_for, names, register

__all__ = ["FormatAdapter", "adapter_for", "names", "register"]
