"""Record formats of the de-identification engine, registered by name (Presidio's operator factory as model).

A format is one module in `deid/formats/` that defines a `FormatAdapter` and registers it: how a record
arrives (`coerce`), what it needs from a profile (`compile`, once per profile at start-up) and how it is
de-identified (`deidentify`). The engine looks formats up here and has no per-format code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from deid.formats.context import Environment
from deid.profile import Profile


class FormatAdapter(ABC):
    """One record format. `name` is the value of `format=` and of a profile's `formats:` list."""

    name: str

    @abstractmethod
    def compile(self, profile: Profile) -> Any:
        """What `deidentify` needs from `profile`'s section for this format, built once."""

    @abstractmethod
    def coerce(self, payload: Any) -> Any:
        """The record as this format handles it (e.g. text from bytes); raises RecordRejected otherwise."""

    @abstractmethod
    def deidentify(self, payload: Any, compiled: Any, env: Environment) -> tuple[Any, str | None]:
        """(de-identified record, linkage pseudonym of its first patient); raises on anything it cannot do."""


_ADAPTERS: dict[str, FormatAdapter] = {}


def register(adapter: FormatAdapter) -> FormatAdapter:
    if adapter.name in _ADAPTERS:
        raise ValueError(f"format {adapter.name!r} is registered twice")
    _ADAPTERS[adapter.name] = adapter
    return adapter


def adapter_for(name: str) -> FormatAdapter | None:
    return _ADAPTERS.get(name)


def names() -> tuple[str, ...]:
    return tuple(_ADAPTERS)
