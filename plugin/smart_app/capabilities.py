"""What this launch may do, from the scopes the EHR granted (which may be fewer than asked)
and the identity it gave, with a plain-words reason for each thing it may not do."""

from __future__ import annotations

from dataclasses import dataclass

from smart_launch import GrantedScopes

# (resource type, interaction) pairs each feature needs.
READ_RECORD = (
    ("Patient", "r"),
    ("Condition", "s"),
    ("Observation", "s"),
    ("MedicationRequest", "s"),
)
READ_IMAGES = (("Media", "s"), ("ImagingStudy", "s"), ("DocumentReference", "s"))
WRITE_RESULT = (
    ("DiagnosticReport", "c"),
    ("Observation", "c"),
    ("CarePlan", "c"),
    ("Device", "c"),
    ("Provenance", "c"),
)
SIGN = (
    ("DiagnosticReport", "u"),
    ("Observation", "u"),
    ("CarePlan", "u"),
    ("Provenance", "c"),
)
REFER = (("ServiceRequest", "c"),)


def _missing(granted: GrantedScopes, needs: tuple[tuple[str, str], ...]) -> list[str]:
    return sorted({t for t, letter in needs if not granted.allows(t, letter)})


@dataclass(frozen=True)
class Capabilities:
    can_read: bool
    can_see_images: bool
    can_write: bool
    can_sign: bool
    can_refer: bool
    has_identity: bool
    read_missing: tuple[str, ...] = ()
    write_missing: tuple[str, ...] = ()
    sign_missing: tuple[str, ...] = ()

    @classmethod
    def from_grant(cls, granted: GrantedScopes, fhir_user: str | None) -> Capabilities:
        read_missing = _missing(granted, READ_RECORD)
        write_missing = _missing(granted, WRITE_RESULT)
        sign_missing = _missing(granted, SIGN)
        parts = (fhir_user or "").rstrip("/").split("/")
        identity = len(parts) >= 2 and parts[-2] == "Practitioner" and bool(parts[-1])
        return cls(
            can_read=not read_missing,
            can_see_images=any(granted.allows(t, letter) for t, letter in READ_IMAGES),
            can_write=not write_missing,
            can_sign=not write_missing and not sign_missing and identity,
            can_refer=not _missing(granted, REFER) and identity,
            has_identity=identity,
            read_missing=tuple(read_missing),
            write_missing=tuple(write_missing),
            sign_missing=tuple(sign_missing),
        )

    def notices(self) -> list[str]:
        """Sentences for the clinician, most important first."""
        out: list[str] = []
        if not self.can_read:
            out.append(
                "Your EHR did not grant access to the patient's record ("
                + ", ".join(self.read_missing)
                + "), so no advice can be drafted. Ask your EHR administrator to allow it."
            )
        if not self.can_see_images:
            out.append(
                "Your EHR did not grant access to the patient's photographs, so they cannot "
                "be graded."
            )
        if not self.can_write or self.sign_missing:
            missing = sorted({*self.write_missing, *self.sign_missing})
            out.append(
                "You can review but not sign: your EHR did not grant write access ("
                + ", ".join(missing)
                + ")."
            )
        elif not self.has_identity:
            out.append(
                "You can review but not sign: your EHR did not say who you are (no fhirUser "
                "for a Practitioner), and a signature must name the clinician."
            )
        if self.can_sign and not self.can_refer:
            out.append(
                "Referrals cannot be sent from here: your EHR did not grant permission to "
                "create a ServiceRequest."
            )
        return out
