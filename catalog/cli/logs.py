"""Log output of the `hds` processes: readable text (default) or one JSON object per line (`--log-format
json` / `HDS_LOG_FORMAT=json`, for log collectors), via python-json-logger.

What the project logs are codes, counts and record identifiers (record ids, topic/partition/offset), passed
as `extra` fields so they become JSON keys; never a value of a record (tests plant an identifier and check)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


def configure(level: int, fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one writing `fmt` to `stream` (stderr)."""
    if fmt not in FORMATS:
        raise ValueError("log format must be text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                      rename_fields={"levelname": "level", "asctime": "time", "name": "logger"})
        if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
