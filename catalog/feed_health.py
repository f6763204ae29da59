"""Feed health for operators and hospitals: what arrived, how fast, when last, and what was dead-lettered why.

Loaded records come from the catalog's own tables (`hospital`, `feed`, `loaded_at`). Dead letters come from a
`DeadLetterSource`: in a running catalog, `KafkaDeadLetters` reads the `hds.dlq.*` topics through the same
listing `hds dlq list` uses, which keeps only the headers that are codes and positions (reason, detail, source
partition and offset, failure time, message id) and the size; the message bytes are dropped as they are read
and never stored, returned or logged. The listing is cached for a few seconds so a busy page does not re-read
the topics on every request.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import duckdb

from catalog.store import q

RATE_WINDOW_MIN = 10
PUBLIC_FIELDS = ("hospital", "feed", "reason", "detail", "source_partition", "source_offset", "failed_at",
                 "message_id", "bytes", "format")


class DeadLetterSource(Protocol):
    def listing(self) -> list[dict[str, Any]]: ...


class NoDeadLetters:
    """Used when the catalog has no Kafka connection (tests of the API alone, a catalog without a broker)."""

    available = False

    def listing(self) -> list[dict[str, Any]]:
        return []


class KafkaDeadLetters:
    available = True

    def __init__(self, lister: Callable[[], Iterable[dict[str, Any]]], *, ttl_s: float = 5.0) -> None:
        self._lister = lister
        self._ttl = ttl_s
        self._cached: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self._ttl:
                return self._cached[1]
            items = [public_dead_letter(item) for item in self._lister()]
            self._cached = (time.monotonic(), items)
            return items


def public_dead_letter(item: dict[str, Any]) -> dict[str, Any]:
    """Only codes and positions; the topic name gives hospital and feed when the headers do not."""
    out = {k: item.get(k) for k in PUBLIC_FIELDS}
    topic = str(item.get("topic") or "")
    parts = topic.split(".")
    if len(parts) >= 4:
        out["hospital"] = out["hospital"] or parts[2]
        out["feed"] = out["feed"] or ".".join(parts[3:])
    for key in ("source_partition", "source_offset", "bytes"):
        try:
            out[key] = int(out[key]) if out[key] not in (None, "") else None
        except (TypeError, ValueError):
            out[key] = None
    out["reason"] = str(out["reason"] or "unknown")
    out["detail"] = str(out["detail"])[:200] if out["detail"] else None
    return out


def loaded_per_feed(cur: duckdb.DuckDBPyConnection, datasets: list[str],
                    now: dt.datetime | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(hospital, feed) -> records, records in the last RATE_WINDOW_MIN minutes, last loaded time (UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    since = now - dt.timedelta(minutes=RATE_WINDOW_MIN)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for ds in datasets:
        rows = cur.execute(
            f"SELECT hospital, feed, count(*), count(*) FILTER (WHERE loaded_at >= ?), max(loaded_at) "
            f"FROM {q(ds)} GROUP BY hospital, feed", [since]).fetchall()
        for hospital, feed, n, recent, last in rows:
            entry = out.setdefault((hospital, feed), {"records": 0, "recent": 0, "last_seen": None, "dataset": ds})
            entry["records"] += int(n)
            entry["recent"] += int(recent)
            if last is not None and (entry["last_seen"] is None or last > entry["last_seen"]):
                entry["last_seen"] = last
    return out


def health_report(registry: Any, loaded: dict[tuple[str, str], dict[str, Any]], dead: list[dict[str, Any]],
                  *, hospital: str | None = None) -> list[dict[str, Any]]:
    """One row per registered (hospital, feed) pair, optionally only one hospital's."""
    reasons: dict[tuple[str, str], Counter[str]] = {}
    for item in dead:
        reasons.setdefault((str(item["hospital"]), str(item["feed"])), Counter())[item["reason"]] += 1
    rows = []
    for h in registry.hospitals:
        if hospital is not None and h != hospital:
            continue
        for f in registry.feeds:
            cfg = registry.lookup(h, f)
            if cfg is None:
                continue
            got = loaded.get((h, f), {})
            by_reason = reasons.get((h, f), Counter())
            last = got.get("last_seen")
            rows.append({
                "hospital": h, "hospital_name": registry.hospital_name(h) or h, "feed": f, "format": cfg.format,
                "dataset": cfg.dataset, "records": got.get("records", 0),
                "per_minute": round(got.get("recent", 0) / RATE_WINDOW_MIN, 1),
                "last_seen": last.replace(tzinfo=dt.timezone.utc).isoformat() if last else None,
                "dead_lettered": sum(by_reason.values()), "dead_letters_by_reason": dict(sorted(by_reason.items())),
            })
    return rows
