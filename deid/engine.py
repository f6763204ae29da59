"""The de-identification engine: one call per record, results as values (never raises).

    engine = Deidentifier(keyring=Keyring({"k1": "..."}), profiles_dir=Path("policies/deid"))
    result = engine.deidentify(message, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")

Fail closed: any exception while de-identifying a record -> `DeidResult(ok=False, payload=None, reason=...)`;
nothing half de-identified is ever returned. Reasons and details are PHI-free codes and positions.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from deid.formats.context import Environment
from deid.formats.csv_row import deidentify_csv_row
from deid.formats.fhir import compile_fhir, deidentify_fhir
from deid.formats.hl7v2 import CompiledHl7, deidentify_hl7
from deid.hl7 import HL7ParseError
from deid.keys import Keyring
from deid.operators import RecordRejected, build_operator
from deid.profile import DEFAULT_PROFILES_DIR, FORMATS, Profile, load_profiles
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
        profiles_dir: Path | None = None,
        redactor: Redactor | None = None,
        today: date | None = None,
    ) -> None:
        self.keyring = keyring
        self.profiles: dict[str, Profile] = load_profiles(Path(profiles_dir) if profiles_dir else DEFAULT_PROFILES_DIR)
        self._redactor = redactor
        self._redactor_lock = threading.Lock()
        self._today = today
        drop = build_operator("drop")
        self._hl7 = {n: CompiledHl7(p.hl7v2, drop) for n, p in self.profiles.items() if p.hl7v2 is not None}
        self._fhir = {n: compile_fhir(p.fhir) for n, p in self.profiles.items() if p.fhir is not None}

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

        if format not in FORMATS:
            return reject("unknown_format")
        prof = self.profiles.get(profile)
        if prof is None:
            return reject("unknown_profile")
        if format not in prof.formats:
            return reject("format_not_in_profile", format)
        if not isinstance(hospital, str) or not hospital.strip():
            return reject("missing_hospital")
        try:
            env = Environment(self.keyring, hospital.strip(), prof, self._today or date.today(), self.redactor, findings)
            if format == "hl7v2":
                if isinstance(payload, bytes):
                    try:
                        payload = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        return reject("hl7_not_utf8")
                if not isinstance(payload, str):
                    return reject("hl7_not_text")
                out, patient = deidentify_hl7(payload, self._hl7[profile], env)
                return DeidResult(True, out, patient, kid, profile)
            if format == "fhir":
                if isinstance(payload, (str, bytes)):
                    try:
                        payload = json.loads(payload)
                    except ValueError:
                        return reject("fhir_parse_error")
                if not isinstance(payload, dict):
                    return reject("fhir_not_object")
                assert prof.fhir is not None
                fhir_out, patient = deidentify_fhir(payload, prof.fhir, env, self._fhir[profile])
                return DeidResult(True, fhir_out, patient, kid, profile)
            if not isinstance(payload, dict):
                return reject("csv_not_object")
            assert prof.csv is not None
            row, patient = deidentify_csv_row(payload, prof.csv, env)
            return DeidResult(True, row, patient, kid, profile)
        except HL7ParseError as exc:
            return reject("hl7_parse_error", f"{exc.reason} {exc.position}".strip())
        except RecordRejected as exc:
            return reject(exc.reason, exc.detail)
        except RecursionError:
            return reject("deid_error", "too_deep")
        except Exception as exc:  # noqa: BLE001 - fail closed: never pass a record through on error
            return reject("deid_error", type(exc).__name__)
