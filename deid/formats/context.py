"""Building the per-record operator context: linkage pseudonym, date shift and known identifiers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from deid.identity import PatientIdentity
from deid.keys import Keyring
from deid.operators import OperatorContext
from deid.profile import Profile
from deid.text.propagation import FindingsCache
from deid.text.types import KnownIdentifiers, Redactor


@dataclass(frozen=True)
class Environment:
    """What stays the same for every record of one call: keys, hospital, profile, redactor, today."""

    keyring: Keyring
    hospital: str
    profile: Profile
    today: date
    redactor_factory: Callable[[], Redactor]
    findings: FindingsCache | None = None  # patient-level propagation across records (gateway)

    def patient_context(
        self,
        identity: PatientIdentity | None,
        known: KnownIdentifiers,
        *,
        local_patient_id: str = "",
        decode_text: Callable[[str], str] | None = None,
        encode_text: Callable[[str], str] | None = None,
    ) -> OperatorContext:
        """Linkage pseudonym from the identity; date shift from it (or, failing that, from the hospital-scoped
        local patient id, so one hospital's records of a patient at least share one shift)."""
        patient = identity.pseudonym(self.keyring) if identity is not None else None
        seed = patient or (self.keyring.pseudonym("local-patient", self.hospital, local_patient_id) if local_patient_id else None)
        shift = None
        if seed is not None:
            rng = self.profile.date_shift
            shift = self.keyring.date_shift_days(seed, low=rng.min_days, high=rng.max_days)
            if shift == 0:
                shift = rng.min_days if rng.min_days != 0 else rng.max_days
        if self.findings is not None and patient is not None:
            known = self.findings.known_for(patient, known)
        ctx = OperatorContext(
            sensitive=sensitive_values(known),
            keyring=self.keyring,
            hospital=self.hospital,
            today=self.today,
            patient=patient,
            shift_days=shift,
            lang=self.profile.lang,
            known=known,
            redactor_factory=self.redactor_factory,
            findings=self.findings if patient is not None else None,
        )
        if decode_text is not None:
            ctx.decode_text = decode_text
        if encode_text is not None:
            ctx.encode_text = encode_text
        return ctx


def add_unique(target: list[str], value: str, *, min_len: int = 2) -> None:
    v = value.strip()
    if len(v) >= min_len and v not in target:
        target.append(v)


def add_identifier(target: list[str], value: str) -> None:
    """Identifiers worth searching in notes: at least 4 characters and at least one digit."""
    v = value.strip()
    if len(v) >= 4 and any(c.isdigit() for c in v) and v not in target:
        target.append(v)


def sensitive_values(known: KnownIdentifiers) -> frozenset[str]:
    values: set[str] = set()
    for name in known.names:
        values.update(p.upper() for p in (name.family, *name.given) if len(p) >= 3)
    for group in (known.identifiers, known.phones, known.emails):
        values.update(v.upper() for v in group)
    return frozenset(values)
