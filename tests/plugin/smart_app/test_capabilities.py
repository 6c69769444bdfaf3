"""What a launch may do from the scopes granted, and the sentences that explain the rest."""

from __future__ import annotations

from plugin.smart_app.capabilities import Capabilities
from plugin.smart_app.runtime import RECOMMENDED_SCOPES
from smart_launch import GrantedScopes

DOCTOR = "https://ehr.example.org/fhir/Practitioner/7"


def caps(scopes: str | tuple[str, ...], fhir_user: str | None = DOCTOR) -> Capabilities:
    text = scopes if isinstance(scopes, str) else " ".join(scopes)
    return Capabilities.from_grant(GrantedScopes.parse(text), fhir_user)


def test_everything_recommended_allows_everything() -> None:
    c = caps(RECOMMENDED_SCOPES)
    assert (c.can_read, c.can_see_images, c.can_write, c.can_sign, c.can_refer) == (True,) * 5
    assert c.notices() == []


def test_no_report_write_means_review_only_with_the_reason() -> None:
    c = caps(tuple(s for s in RECOMMENDED_SCOPES if not s.startswith("user/DiagnosticReport")))
    assert c.can_read and not c.can_write and not c.can_sign
    assert c.notices() == [
        "You can review but not sign: your EHR did not grant write access (DiagnosticReport)."
    ]


def test_update_missing_blocks_signing_only() -> None:
    c = caps(tuple(s.replace("user/CarePlan.cru", "user/CarePlan.c") for s in RECOMMENDED_SCOPES))
    assert c.can_write and not c.can_sign
    assert "(CarePlan)" in c.notices()[0]


def test_a_signature_needs_a_practitioner() -> None:
    for who in (None, "Patient/3", "https://ehr/fhir/RelatedPerson/1"):
        c = caps(RECOMMENDED_SCOPES, who)
        assert c.can_write and not c.can_sign and not c.can_refer
        assert "did not say who you are" in " ".join(c.notices())
    assert caps(RECOMMENDED_SCOPES, "Practitioner/9").can_sign


def test_v1_and_wildcard_grants_count() -> None:
    assert caps("patient/*.read user/*.write openid fhirUser").can_sign
    assert caps("patient/*.cruds user/*.cruds").can_refer


def test_without_record_access_it_says_so_first() -> None:
    c = caps("openid fhirUser patient/Media.rs")
    assert not c.can_read
    assert c.notices()[0].startswith("Your EHR did not grant access to the patient's record")
    assert "Condition" in c.notices()[0]


def test_referral_needs_service_request_create() -> None:
    c = caps(tuple(s for s in RECOMMENDED_SCOPES if "ServiceRequest" not in s))
    assert c.can_sign and not c.can_refer
    assert any("Referrals cannot be sent" in n for n in c.notices())
