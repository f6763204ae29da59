"""Feed formats registered by name (Logprep's connector registry as model): one module per format here."""

from __future__ import annotations

from gateway.formats.base import FeedFormat

_FORMATS: dict[str, FeedFormat] = {}


def register(fmt: FeedFormat) -> FeedFormat:
    if fmt.name in _FORMATS:
        raise ValueError(f"feed format {fmt.name!r} is registered twice")
    _FORMATS[fmt.name] = fmt
    return fmt


def format_for(name: str) -> FeedFormat | None:
    return _FORMATS.get(name)


def names() -> tuple[str, ...]:
    return tuple(_FORMATS)


def all_formats() -> tuple[FeedFormat, ...]:
    return tuple(_FORMATS.values())
