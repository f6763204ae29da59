"""What the integration tests share: the malformed messages they send and the running pipeline's handles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policies.settings import Settings

BAD_MESSAGES = [
    # (hospital, feed, value, expected reason family)
    ("st-luke", "adt", "MSH|^~\\&|EPIC|STL|HDS|CITY|20250314||ADT^A01|M1|P|2.5\rPID|1||99".encode(), None),
    ("st-luke", "adt", "MSH|^~\\&|EPIC|STL\rPID|1||Müller^Jürgen".encode("latin-1"), "encoding_error"),
    ("riverside", "fhir", b'{"resourceType": "Bundle", "entry": [', "invalid_json"),
    ("riverside", "pharmacy", b"MSH|^~\\&|X", "unknown_feed"),
]


@dataclass
class Pipeline:
    settings: Settings
    catalog: Any
    gateway: Any
    manifest: dict[str, Any]
    published: int
    bad: int
    token: str
    dlq_reasons: dict[str, int]
    logs: list[str] = field(default_factory=list)


class LogCollector(logging.Handler):
    """Keeps every formatted record of the project's loggers, to prove no identifier is ever logged."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))

    def install(self) -> None:
        for name in ("gateway", "catalog", "deid", "policies"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)




def wait_for(cond: Callable[[], bool], timeout: float = 60.0, interval: float = 0.2) -> bool:
    """Poll `cond` until it holds or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()
