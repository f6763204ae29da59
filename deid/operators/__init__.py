"""Operators registered by name: keep, drop, pseudonymise, shift_date, generalise, redact."""

from deid.operators import drop, generalise, keep, pseudonymise, redact, shift_date  # noqa: F401  (registration)
from deid.operators.base import (
    OPERATORS,
    Operator,
    OperatorConfigError,
    OperatorContext,
    RecordRejected,
    build_operator,
    register,
)

__all__ = [
    "OPERATORS",
    "Operator",
    "OperatorConfigError",
    "OperatorContext",
    "RecordRejected",
    "build_operator",
    "register",
]
