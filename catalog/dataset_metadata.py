"""A dataset's documentation, assembled once per change of the data: what `/metadata` and `/dcat` serve.

Sources: the feed registry (title, description, which feeds and hospitals), the de-identification profiles
(what happened to each column), the dataset policies (tier and disclosure thresholds) and the catalog table
(counts, coverage, timeline, k-anonymity). Cached per dataset until its row count or last update changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog import dataset_facts as facts
from deid.profile import Profile, load_profiles

PUBLISHER = {"name": "Municipal health data authority"}

# Legal bases and purposes a request may state (the request form offers these; DCAT lists them).
LEGAL_BASES = [
    {"id": "ehds-53-1-e", "uri": "https://w3id.org/dpv/legal/eu/ehds#A53-1-e",
     "en": "EHDS Art. 53(1)(e): scientific research", "zh": "EHDS 第53(1)(e)条：科学研究"},
    {"id": "ehds-53-1-a", "uri": "https://w3id.org/dpv/legal/eu/ehds#A53-1-a",
     "en": "EHDS Art. 53(1)(a): public interest in public health", "zh": "EHDS 第53(1)(a)条：公共卫生公共利益"},
    {"id": "ehds-53-1-d", "uri": "https://w3id.org/dpv/legal/eu/ehds#A53-1-d",
     "en": "EHDS Art. 53(1)(d): education and teaching", "zh": "EHDS 第53(1)(d)条：教育与教学"},
    {"id": "gdpr-9-2-j", "uri": "https://w3id.org/dpv/legal/eu/gdpr#A9-2-j",
     "en": "GDPR Art. 9(2)(j): research and statistics", "zh": "GDPR 第9(2)(j)条：研究与统计"},
]
PURPOSES = [
    {"id": "research", "uri": "https://w3id.org/dpv#ScientificResearch", "en": "Scientific research", "zh": "科学研究"},
    {"id": "public-health", "uri": "https://w3id.org/dpv#PublicBenefit", "en": "Public health monitoring",
     "zh": "公共卫生监测"},
    {"id": "service-planning", "uri": "https://w3id.org/dpv#ServiceOptimisation", "en": "Health service planning",
     "zh": "卫生服务规划"},
]
RIGHTS = {
    "aggregate": "Aggregate results only, inside the query sandbox; cells covering few patients are suppressed.",
    "record": "Pseudonymised rows inside the query sandbox; nothing leaves it.",
    "extract": "Pseudonymised rows inside the query sandbox and an approved download of the granted columns.",
}


@dataclass
class MetadataCache:
    profiles_dir: Path
    _profiles: dict[str, Profile] | None = None
    _entries: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def profiles(self) -> dict[str, Profile]:
        if self._profiles is None:
            self._profiles = load_profiles(self.profiles_dir)
        return self._profiles

    def get(self, key: tuple[Any, ...], dataset: str, build: Any) -> dict[str, Any]:
        with self._lock:
            hit = self._entries.get(dataset)
            if hit is not None and hit[0] == key:
                return hit[1]
        value = build()
        with self._lock:
            self._entries[dataset] = (key, value)
        return value


def describe(state: Any, dataset: str) -> dict[str, Any] | None:
    """The whole documentation of `dataset`, or None when the catalog and the registry do not know it."""
    summary = state.store.dataset_summary(dataset)
    info = state.registry.dataset(dataset)
    if summary is None and info is None:
        return None
    cache: MetadataCache = state.metadata_cache
    key = (None, None) if summary is None else (summary["rows"], summary["last_update"])
    return cache.get(key, dataset, lambda: _build(state, dataset, summary, info, cache))


def _build(state: Any, dataset: str, summary: dict[str, Any] | None, info: Any, cache: MetadataCache) -> dict[str, Any]:
    registry = state.registry
    policy = state.dataset_policies.for_dataset(dataset) if state.dataset_policies is not None else None
    tier = state.tier_of(dataset)
    feeds = registry.feeds_of_dataset(dataset)
    profile_names = list(dict.fromkeys((summary or {}).get("deid_profiles") or [
        cfg.profile for h in registry.hospitals for f in feeds if (cfg := registry.lookup(h, f)) is not None]))
    profiles = cache.profiles()
    profile = profiles.get(profile_names[0]) if profile_names else None
    fmt = (summary or {}).get("format") or _format_of(registry, feeds)
    schema = [(c["name"], c["type"]) for c in (summary or {}).get("schema", [])]
    columns = facts.column_entries(fmt, schema, profile)
    names = [n for n, _ in schema]
    disclosure = facts.Disclosure(min_count=policy.min_cell_count if policy else 10,
                                  rounding=(policy.rounding or 1) if policy else 5)
    cur = state.store.cursor()
    try:
        coverage = facts.coverage_and_timeline(cur, dataset, names, disclosure) if summary else {
            "date_column": None, "start": None, "end": None, "months": []}
        risk = facts.k_anonymity(cur, dataset, names) if summary else None
    finally:
        cur.close()
    sources = (summary or {}).get("sources", [])
    hospitals = [{"id": h, "name": registry.hospital_name(h) or h,
                  "rows": sum(s["rows"] for s in sources if s["hospital"] == h)}
                 for h in ((summary or {}).get("hospitals") or [])]
    return {
        "id": dataset,
        "title": info.title if info else dataset,
        "description": info.description if info else "",
        "tier": tier,
        "format": fmt,
        "feeds": feeds,
        "keywords": [w for w in (fmt, tier, *feeds) if w],
        "publisher": PUBLISHER,
        "hospitals": hospitals,
        "rows": (summary or {}).get("rows", 0),
        "patients": (summary or {}).get("patients", 0),
        "coverage": {k: coverage[k] for k in ("date_column", "start", "end")},
        "timeline": {k: coverage.get(k) for k in ("months", "withheld_below", "rounded_to")},
        "freshness": facts.freshness((summary or {}).get("last_update")),
        "profiles": [{"name": n, "standard": p.standard, "description": p.description}
                     for n in profile_names if (p := profiles.get(n)) is not None],
        "k_anonymity": risk,
        "columns": columns,
        "coding_systems": facts.coding_systems(columns),
        "disclosure": {"min_cell_count": disclosure.min_count, "rounding": policy.rounding if policy else None,
                       "min_patients": policy.min_patients if policy else None,
                       "row_cap": policy.row_cap if policy and tier != "aggregate" else None},
        "access": {"rights": RIGHTS.get(tier, RIGHTS["aggregate"]), "legal_bases": LEGAL_BASES, "purposes": PURPOSES},
    }


def _format_of(registry: Any, feeds: list[str]) -> str | None:
    for h in registry.hospitals:
        for f in feeds:
            cfg = registry.lookup(h, f)
            if cfg is not None:
                return str(cfg.format)
    return None
