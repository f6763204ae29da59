"""Access tiers per dataset, loaded from ``policies/datasets.yaml`` and validated on load.

A dataset not listed falls back to ``default``, whose tier is ``aggregate`` unless the file says
otherwise: an unknown dataset is never more open than the most restrictive tier (fail closed).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "datasets.yaml"


class Tier(StrEnum):
    """What a researcher may see of a dataset. Ordered from most to least restrictive."""

    AGGREGATE = "aggregate"  # only aggregate results, small cells suppressed
    RECORD = "record"  # pseudonymised rows inside the sandbox, row cap
    EXTRACT = "extract"  # like record, plus approved download (CSV/Parquet)

    @property
    def openness(self) -> int:
        return {Tier.AGGREGATE: 0, Tier.RECORD: 1, Tier.EXTRACT: 2}[self]

    @staticmethod
    def most_restrictive(tiers: list[Tier]) -> Tier:
        return min(tiers, key=lambda t: t.openness) if tiers else Tier.AGGREGATE


class DatasetPolicy(BaseModel):
    """Disclosure rules for one dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: Tier = Tier.AGGREGATE
    min_cell_count: Annotated[int, Field(ge=1)] = 10
    rounding: Annotated[int, Field(ge=1)] | None = None  # round released counts/sums to this base; None: none
    min_patients: Annotated[int, Field(ge=1)] = 10
    row_cap: Annotated[int, Field(ge=1)] = 1000
    patient_column: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "patient_pseudonym"

    @field_validator("rounding", mode="before")
    @classmethod
    def _rounding_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"none", "off", ""}:
            return None
        return value


class DatasetPolicies(BaseModel):
    """The whole ``datasets.yaml``: a default plus per-dataset overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: DatasetPolicy = DatasetPolicy()
    datasets: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], DatasetPolicy] = {}

    def for_dataset(self, dataset_id: str) -> DatasetPolicy:
        return self.datasets.get(dataset_id, self.default)


class PolicyFileError(ValueError):
    """A policy file that cannot be used. The message names the file and the field, never a value."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def parse_dataset_policies(document: object, *, source: str = "<memory>") -> DatasetPolicies:
    if not isinstance(document, dict):
        raise PolicyFileError(f"{source}: top level must be a mapping with 'default' and 'datasets'")
    try:
        return DatasetPolicies.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{_field_path(err['loc'])}: {err['type']}" for err in exc.errors())
        raise PolicyFileError(f"{source}: invalid dataset policy ({problems})") from None


def load_dataset_policies(path: str | Path = DEFAULT_POLICY_FILE) -> DatasetPolicies:
    """Load and validate a dataset policy file; a bad file raises naming the file and the field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"{source}: cannot be read ({type(exc).__name__})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyFileError(f"{source}: not valid YAML{where}") from None
    return parse_dataset_policies(document, source=source)
