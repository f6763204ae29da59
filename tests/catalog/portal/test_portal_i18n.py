"""Every string the portal shows exists in English and Chinese (the keys the scripts use, and the codes the API
sends that the portal translates: statuses, tiers, de-identification rules, dead-letter reasons, roles)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from portal_kit import dictionaries

from catalog.routes.portal import PORTAL_DIR

PREFIXES = ("action", "age", "app", "audit", "catalog", "chart", "col", "dataset", "deid", "error", "ex", "feeds",
            "filter", "fix", "form", "format", "grants", "lang", "loading", "nav", "query", "reason", "request",
            "requests", "review", "rights", "role", "signin", "signout", "status", "tier", "topic", "who")


def _used_keys() -> set[str]:
    """String literals in the scripts and the page that look like translation keys."""
    sources = [p.read_text(encoding="utf-8") for p in PORTAL_DIR.glob("*.js") if p.name != "i18n.js"]
    sources.append((PORTAL_DIR / "index.html").read_text(encoding="utf-8"))
    literal = re.compile(r'"((?:%s)(?:\.[a-z0-9_-]+)*)"' % "|".join(PREFIXES))
    actions = re.search(r"const ACTIONS = \[([^\]]*)\]", "".join(sources))
    assert actions is not None
    audit_codes = set(re.findall(r'"([^"]+)"', actions.group(1)))
    keys = {f"auditaction.{code}" for code in audit_codes}
    for src in sources:
        for key in literal.findall(src):
            if key in audit_codes:  # audit action codes, shown through "auditaction.<code>"
                continue
            if "." in key and not key.endswith(("_", ".")) or key in ("signout", "who", "loading"):
                keys.add(key)
    return keys


def test_given_both_languages_then_they_have_exactly_the_same_keys() -> None:
    d = dictionaries()
    assert len(d["en"]) > 300
    assert set(d["en"]) == set(d["zh"])


def test_given_the_scripts_then_every_key_they_use_is_translated() -> None:
    d = dictionaries()
    used = _used_keys()
    assert len(used) > 250
    missing = sorted(k for k in used if k not in d["en"] or k not in d["zh"])
    assert missing == []


def test_given_chinese_then_texts_are_chinese_not_english_copies() -> None:
    d = dictionaries()
    han = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [k for k, v in d["zh"].items() if v and not han.search(v) and v == d["en"][k]
                    and not re.fullmatch(r"[A-Z0-9 .()#{}:/+-]*|HL7 v2|FHIR R4", v)]
    assert untranslated == []


@pytest.mark.parametrize("family, codes", [
    ("status", ["submitted", "under_review", "approved", "refused", "withdrawn", "active", "revoked", "expired"]),
    ("tier", ["aggregate", "record", "extract"]),
    ("deid", ["kept", "removed", "pseudonymised", "generalised", "shifted", "redacted", "computed", "metadata", "unknown"]),
    ("reason", ["unknown_feed", "encoding_error", "invalid_json", "hl7_parse_error", "deid_error", "internal_error"]),
    ("fix", ["unknown_feed", "encoding_error", "invalid_json", "hl7_parse_error", "deid_error", "internal_error"]),
])
def test_given_codes_from_the_api_then_each_has_a_translation(family: str, codes: list[str]) -> None:
    d = dictionaries()
    for lang in ("en", "zh"):
        missing = [c for c in codes if f"{family}.{c}" not in d[lang]]
        assert missing == [], lang


def test_given_the_enums_in_code_then_the_portal_translates_every_value() -> None:
    from catalog.routes.datasets import FEED_TOPICS
    from policies.access.model import GrantStatus, RequestStatus
    from policies.principal import ROLES

    d = dictionaries()
    wanted = [f"status.{s.value}" for s in (*RequestStatus, *GrantStatus)] + [f"role.{r}" for r in ROLES]
    wanted += [f"topic.{t}" for t in set(FEED_TOPICS.values()) | {"other"}]
    assert [k for k in wanted if k not in d["en"] or k not in d["zh"]] == []


def test_given_a_missing_key_then_the_check_finds_it(tmp_path: Path) -> None:
    """The detector itself can fail: a key used but absent is reported."""
    d = dictionaries()
    used = _used_keys() | {"query.not_a_real_key"}
    assert [k for k in used if k not in d["en"]] == ["query.not_a_real_key"]
