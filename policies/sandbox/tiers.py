"""Access tiers per dataset, loaded from ``policies/datasets.yaml`` and validated on load.

A dataset not listed falls back to ``default``, whose tier is ``aggregate`` unless the file says
otherwise: an unknown dataset is never more open than the most restrictive tier (fail closed).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.settings import DEFAULT_POLICIES_DIR

DEFAULT_POLICY_FILE = DEFAULT_POLICIES_DIR / "datasets.yaml"


class Tier(StrEnum):
    """What a researcher may see of a dataset. Ordered from most to least restrictive."""

    AGGREGATE_DP = "aggregate-dp"  # differentially private counts, sums and means under an epsilon budget
    AGGREGATE = "aggregate"  # only aggregate results, small cells suppressed
    RECORD = "record"  # pseudonymised rows inside the sandbox, row cap
    EXTRACT = "extract"  # like record, plus approved download (CSV/Parquet)

    @property
    def openness(self) -> int:
        return {Tier.AGGREGATE_DP: -1, Tier.AGGREGATE: 0, Tier.RECORD: 1, Tier.EXTRACT: 2}[self]

    @staticmethod
    def most_restrictive(tiers: list[Tier]) -> Tier:
        return min(tiers, key=lambda t: t.openness) if tiers else Tier.AGGREGATE


class ColumnTreatment(StrEnum):
    """How a column leaves the sandbox in the record and extract tiers."""

    SAFE = "safe"  # released as stored
    REKEY = "rekey"  # identifier-derived: replaced by a per-grant (project) pseudonym


_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ALWAYS_REKEYED = ("record_id",)  # with the dataset's patient column


class DatasetPolicy(BaseModel):
    """Disclosure rules for one dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: Tier = Tier.AGGREGATE
    min_cell_count: Annotated[int, Field(ge=1)] = 10
    rounding: Annotated[int, Field(ge=1)] | None = None  # round released counts/sums to this base; None: none
    min_patients: Annotated[int, Field(ge=1)] = 10
    row_cap: Annotated[int, Field(ge=1)] = 1000
    patient_column: Annotated[str, Field(min_length=1, pattern=_NAME)] = "patient_pseudonym"
    dominance_n: Annotated[int, Field(ge=1, le=10)] = 2  # ACRO safe_nk_n
    dominance_k: Annotated[float, Field(gt=0, le=1)] = 0.9  # ACRO safe_nk_k
    p_ratio: Annotated[float, Field(ge=0, le=1)] = 0.10  # ACRO safe_pratio_p
    # record/extract tiers: every column declared safe or rekey; a column not declared is never released.
    columns: dict[Annotated[str, Field(pattern=_NAME)], ColumnTreatment] | None = None
    # aggregate-dp tier (see policies/sandbox/dp.py)
    dp_max_contributions: Annotated[int, Field(ge=1, le=1000)] = 10  # rows per patient a query may use
    dp_bounds: dict[Annotated[str, Field(pattern=_NAME)], tuple[float, float]] = {}  # SUM/AVG columns: clamp range
    dp_domains: dict[Annotated[str, Field(pattern=_NAME)], list[str | int]] = {}  # GROUP BY columns: public values
    dp_epsilon_per_query: Annotated[float, Field(gt=0, le=10)] = 0.1  # when the query does not say
    dp_default_budget: Annotated[float, Field(gt=0, le=100)] = 1.0  # when the access request does not say

    @model_validator(mode="after")
    def _identifiers_rekeyed(self) -> DatasetPolicy:
        for column, (low, high) in self.dp_bounds.items():
            if not low < high:
                raise ValueError(f"dp_bounds of {column} must be [low, high] with low < high")
        if self.tier in (Tier.RECORD, Tier.EXTRACT) and self.columns is None:
            raise ValueError("record and extract tiers must declare every column as safe or rekey")
        for name in (self.patient_column, *ALWAYS_REKEYED):
            if self.columns is not None and self.columns.get(name) is ColumnTreatment.SAFE:
                raise ValueError(f"{name} is identifier-derived and must be rekey")
        return self

    def rekeyed_columns(self) -> frozenset[str]:
        declared = {c.lower() for c, t in (self.columns or {}).items() if t is ColumnTreatment.REKEY}
        return frozenset({self.patient_column.lower(), *ALWAYS_REKEYED, *declared})

    def declared_columns(self) -> frozenset[str]:
        return frozenset(c.lower() for c in (self.columns or {})) | self.rekeyed_columns()

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
        problems = "; ".join(
            f"{_field_path(err['loc'])}: {err['type']}"
            + (f" ({err['msg'].removeprefix('Value error, ')})" if err["type"] == "value_error" else "")
            for err in exc.errors()
        )
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
