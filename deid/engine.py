"""The de-identification engine: one call per record, results as values (never raises).

    engine = Deidentifier(keyring=Keyring({"k1": "..."}), profiles_dir=Path("policies/deid"))
    result = engine.deidentify(message, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")

Fail closed: any exception while de-identifying a record -> `DeidResult(ok=False, payload=None, reason=...)`;
nothing half de-identified is ever returned. Reasons and details are PHI-free codes and positions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from deid import formats
from deid.formats.context import Environment
from deid.hl7 import HL7ParseError
from deid.keys import Keyring
from deid.operators import RecordRejected
from deid.profile import Profile, load_profiles
from deid.text.propagation import FindingsCache
from deid.text.types import Redactor


@dataclass(frozen=True)
class DeidResult:
    ok: bool
    payload: str | dict | None  # type: ignore[type-arg]
    patient: str | None
    key_id: str
    profile: str
    reason: str | None = None
    detail: str | None = None


class Deidentifier:
    def __init__(
        self,
        *,
        keyring: Keyring,
        profiles_dir: Path,
        redactor: Redactor | None = None,
        today: date | None = None,
    ) -> None:
        self.keyring = keyring
        self.profiles: dict[str, Profile] = load_profiles(Path(profiles_dir))
        self._redactor = redactor
        self._redactor_lock = threading.Lock()
        self._today = today
        # Each profile's sections compiled once, by the format registered under that name.
        self._compiled: dict[tuple[str, str], Any] = {}
        for name, prof in self.profiles.items():
            for fmt in prof.formats:
                adapter = formats.adapter_for(fmt)
                if adapter is not None:
                    self._compiled[(name, fmt)] = adapter.compile(prof)

    def profile_names(self) -> list[str]:
        return sorted(self.profiles)

    def redactor(self) -> Redactor:
        """The free-text redactor, built once on first use when none was given."""
        if self._redactor is None:
            with self._redactor_lock:
                if self._redactor is None:
                    from deid.text.redactor import TextRedactor  # heavy (spaCy, Presidio): only when needed

                    self._redactor = TextRedactor()
        return self._redactor

    def deidentify(
        self, payload: Any, *, format: str, profile: str, hospital: str, findings: FindingsCache | None = None
    ) -> DeidResult:
        """`findings`: a patient-level propagation cache (deid.text.propagation) shared by calls; None: each
        record stands alone."""
        kid = self.keyring.key_id

        def reject(reason: str, detail: str | None = None) -> DeidResult:
            return DeidResult(False, None, None, kid, profile, reason, detail)

        adapter = formats.adapter_for(format)
        if adapter is None:
            return reject("unknown_format")
        prof = self.profiles.get(profile)
        if prof is None:
            return reject("unknown_profile")
        if format not in prof.formats:
            return reject("format_not_in_profile", format)
        if not isinstance(hospital, str) or not hospital.strip():
            return reject("missing_hospital")
        try:
            record = adapter.coerce(payload)
            env = Environment(self.keyring, hospital.strip(), prof, self._today or date.today(), self.redactor, findings)
            out, patient = adapter.deidentify(record, self._compiled[(profile, format)], env)
            return DeidResult(True, out, patient, kid, profile)
        except HL7ParseError as exc:
            return reject("hl7_parse_error", f"{exc.reason} {exc.position}".strip())
        except RecordRejected as exc:
            return reject(exc.reason, exc.detail)
        except RecursionError:
            return reject("deid_error", "too_deep")
        except Exception as exc:  # noqa: BLE001 - fail closed: never pass a record through on error
            return reject("deid_error", type(exc).__name__)
