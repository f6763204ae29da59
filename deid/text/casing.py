"""How a note is written: mixed-case prose (capitals carry meaning) or ALL-CAPS / all-lower nursing notes."""

from __future__ import annotations


def is_mixed_case(text: str) -> bool:
    """True for mixed-case prose; False for ALL-CAPS or all-lower notes, where capitals say nothing."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    upper = sum(1 for c in letters if c.isupper())
    return 0.03 < upper / len(letters) < 0.6
