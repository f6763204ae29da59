"""The operator interface: one small class per transformation, registered by name, configured from a profile.

An operator is built once per profile rule (parameters validated then) and applied to many values.
`operate(value, ctx)` returns the new value, or None to drop it. Operators never log or echo values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from deid.keys import Keyring
from deid.text.types import KnownIdentifiers, Redactor


class OperatorConfigError(ValueError):
    """An operator's parameters are invalid (message names the parameter, never a value from a record)."""


class RecordRejected(Exception):
    """De-identifying this record cannot be done safely; it must be rejected (fail closed)."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(reason if detail is None else f"{reason}: {detail}")


def _identity(text: str) -> str:
    return text


@dataclass
class OperatorContext:
    """What operators may need about the record being de-identified (built once per record)."""

    keyring: Keyring
    hospital: str
    today: date
    patient: str | None = None  # linkage pseudonym
    shift_days: int | None = None  # None: no patient to shift for -> dates are generalised to the year
    lang: str = "auto"
    known: KnownIdentifiers = field(default_factory=KnownIdentifiers)
    redactor_factory: Callable[[], Redactor] | None = None
    decode_text: Callable[[str], str] = _identity  # format escaping around free text (HL7 escapes)
    encode_text: Callable[[str], str] = _identity
    position: str = ""  # where in the record (for PHI-free error details)
    # Upper-cased identifier values from the record's structured fields: a value kept elsewhere that equals
    # one of them exactly (e.g. a sending application named like the patient) is removed too.
    sensitive: frozenset[str] = frozenset()
    # patient-level propagation (deid.text.propagation.FindingsCache): what a redaction found is remembered
    # under the linkage pseudonym and looked for in the patient's later records
    findings: Any = None

    def redactor(self) -> Redactor:
        if self.redactor_factory is None:
            raise RecordRejected("no_redactor", self.position)
        return self.redactor_factory()


class Operator(ABC):
    """Base class: subclasses set `name`, `allowed_params`, and implement `operate`."""

    name: ClassVar[str]
    allowed_params: ClassVar[frozenset[str]] = frozenset()
    # A configuration and value that a contract test uses to exercise every operator.
    example_params: ClassVar[dict[str, Any]] = {}
    example_value: ClassVar[str] = "example"

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - self.allowed_params
        if unknown:
            raise OperatorConfigError(f"operator {self.name!r} does not accept parameter(s) {sorted(unknown)}")
        self.params = params
        self.validate(params)

    def validate(self, params: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Raise OperatorConfigError on bad parameters."""

    @abstractmethod
    def operate(self, value: str, ctx: OperatorContext) -> str | None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


OPERATORS: dict[str, type[Operator]] = {}


def register(cls: type[Operator]) -> type[Operator]:
    if cls.name in OPERATORS:
        raise OperatorConfigError(f"operator {cls.name!r} registered twice")
    OPERATORS[cls.name] = cls
    return cls


def build_operator(name: str, params: dict[str, Any] | None = None) -> Operator:
    try:
        cls = OPERATORS[name]
    except KeyError:
        raise OperatorConfigError(f"unknown operator {name!r}; known: {sorted(OPERATORS)}") from None
    return cls(**(params or {}))
