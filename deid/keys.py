"""Keyed pseudonyms: HMAC-SHA256 with a key id, so keys can rotate and pseudonyms say which key made them.

Never reversible (a one-way keyed hash), never Python's built-in hashing (salted per process, unkeyed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

_SEP = "\x1f"  # unit separator between the parts of a pseudonymised value: no ambiguity between ("ab","c") and ("a","bc")


class KeyringError(ValueError):
    """The keyring is unusable; the message names the key id, never a secret."""


@dataclass(frozen=True)
class Keyring:
    """HMAC-SHA256 keys by key id; `current` is the one used for new pseudonyms."""

    keys: dict[str, str]
    current: str = ""
    _encoded: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("keyring has no keys")
        current = self.current or next(iter(self.keys))
        if current not in self.keys:
            raise KeyringError(f"current key id {current!r} is not in the keyring")
        for kid, secret in self.keys.items():
            if not kid or not kid.replace("_", "").replace("-", "").isalnum():
                raise KeyringError("key ids must be non-empty and alphanumeric (with - or _)")
            if not secret:
                raise KeyringError(f"key {kid!r} is empty")
        object.__setattr__(self, "current", current)
        object.__setattr__(self, "_encoded", {k: v.encode("utf-8") for k, v in self.keys.items()})

    @property
    def key_id(self) -> str:
        return self.current

    def digest(self, purpose: str, *parts: str, key_id: str | None = None) -> bytes:
        """Raw HMAC-SHA256 of `purpose` and `parts` under one key (the current key unless `key_id`)."""
        kid = key_id or self.current
        try:
            key = self._encoded[kid]
        except KeyError:
            raise KeyringError(f"unknown key id {kid!r}") from None
        message = _SEP.join((purpose, *parts)).encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).digest()

    def pseudonym(self, purpose: str, *parts: str, key_id: str | None = None, length: int = 26) -> str:
        """`<key id>-<base32 of the HMAC>`: e.g. 'k1-7Q2M...' (26 base32 characters = 130 bits by default)."""
        kid = key_id or self.current
        text = base64.b32encode(self.digest(purpose, *parts, key_id=kid)).decode("ascii").rstrip("=")
        return f"{kid}-{text[:length]}"

    def integer(self, purpose: str, *parts: str, key_id: str | None = None) -> int:
        """A keyed, uniformly distributed 64-bit integer (e.g. to derive a date shift)."""
        return int.from_bytes(self.digest(purpose, *parts, key_id=key_id)[:8], "big")

    def date_shift_days(self, patient_pseudonym: str, *, low: int = -365, high: int = -1) -> int:
        """One shift per patient, in [low, high] days, derived from the key and the linkage pseudonym."""
        if low > high:
            raise KeyringError("date shift range is empty")
        span = high - low + 1
        return low + self.integer("date-shift", patient_pseudonym) % span
