"""What the integration tests share: the malformed messages they send and the running pipeline's handles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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


class Faulty:
    """Delegates to a real client; `fail[name]` = how many of the next calls to `name` raise first."""

    def __init__(self, inner: Any, fail: dict[str, int]) -> None:
        self._inner = inner
        self.fail = fail
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.fail:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.fail[name] > 0:
                self.fail[name] -= 1
                raise ConnectionError(f"injected {name} failure")
            return attr(*args, **kwargs)

        return call


def lab_messages(tmp_path: Path, n: int) -> list[Any]:
    """`n` synthetic CSV lab rows of riverside, as the publisher reads them."""
    from catalog.cli.synth.feeds import generate
    from gateway.readers import read_feed_file

    generate(tmp_path / "feeds", seed=23, patients=max(12, n))
    msgs = read_feed_file(tmp_path / "feeds" / "riverside" / "lab.csv", hospital="riverside", feed="lab")
    assert len(msgs) >= n
    return msgs[:n]
