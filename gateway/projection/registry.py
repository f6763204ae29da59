"""Projections registered by feed format name: one module per format in this package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.projection.common import Columns, Types

Projector = Callable[[Any], tuple[Columns, Types]]
_PROJECTORS: dict[str, Projector] = {}


def register(format: str, projector: Projector) -> Projector:
    if format in _PROJECTORS:
        raise ValueError(f"a projection for {format!r} is registered twice")
    _PROJECTORS[format] = projector
    return projector


def projector_for(format: str) -> Projector:
    try:
        return _PROJECTORS[format]
    except KeyError:
        raise ValueError("unknown format") from None


def formats() -> tuple[str, ...]:
    return tuple(_PROJECTORS)
