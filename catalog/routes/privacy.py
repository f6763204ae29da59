"""The aggregate-dp budget ledger of the app (policies/sandbox/budget.py), kept in the catalog file."""

from __future__ import annotations

from typing import Any

from policies.sandbox.budget import PrivacyLedger


def privacy_ledger(state: Any) -> PrivacyLedger:
    """The app's ledger, created on first use with the catalog's cursors and write lock."""
    ledger = getattr(state, "privacy_ledger", None)
    if ledger is None:
        ledger = state.privacy_ledger = PrivacyLedger(state.store.cursor, state.store.write_lock)
    return ledger
