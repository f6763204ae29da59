"""Every setting the code reads is documented in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_given_the_code_then_every_variable_it_reads_is_in_the_readme() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for pkg in ("gateway", "catalog", "deid", "policies")
                       for p in (REPO / pkg).rglob("*.py"))
    names = set(re.findall(r'"(HDS_[A-Z0-9_]+)"', source)) - {"HDS_PORTAL_URL"}  # a realm-file placeholder
    assert len(names) >= 15
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert missing == [], f"settings missing from README.md: {missing}"


def test_given_the_readme_then_it_documents_no_setting_the_code_does_not_read() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for pkg in ("gateway", "catalog", "deid", "policies")
                       for p in (REPO / pkg).rglob("*.py"))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(HDS_[A-Z0-9_]+)`", readme))
    unknown = sorted(n for n in documented if n not in source)
    assert unknown == []
