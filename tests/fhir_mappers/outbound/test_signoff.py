"""Sign-off planning (pure): statuses, labels, edits, Provenance, the If-Match guard, keys."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_mappers import codes
from fhir_mappers.outbound import (
    AdviceForFhir,
    ReferralForFhir,
    ScreeningContext,
    WriteRequest,
    build_write_bundle,
)
from fhir_mappers.outbound.signoff import (
    ReferralOrder,
    RejectDecision,
    Reviewed,
    SignDecision,
    SignoffInputError,
    plan_referral,
    plan_rejection,
    plan_signoff,
    signoff_key,
)
from fhir_mappers.outbound.signoff_resources import (
    SIGNED_NOTE,
    SIGNOFF_KEY_SYSTEM,
    signed_conclusion,
)
from models.grader.result import PatientGrading

JSON = dict[str, Any]
SIGNED_AT = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
DOCTOR = "Practitioner/doc-1"


def _as_stored(
    grading: PatientGrading,
    context: ScreeningContext,
    advice: AdviceForFhir,
    referral: ReferralForFhir | None = None,
) -> Reviewed:
    """What a server holds after the preliminary write: ids, versions, resolved refs."""
    built = build_write_bundle(
        WriteRequest(context=context, grading=grading, advice=advice, referral=referral)
    )
    ids = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/id{i}"
        for i, e in enumerate(built.bundle["entry"])
    }
    text = json.dumps(built.bundle)
    for url, ref in ids.items():
        text = text.replace(url, ref)
    resources = [e["resource"] for e in json.loads(text)["entry"]]
    for i, r in enumerate(resources):
        r["id"] = f"id{i}"
        r["meta"] = {**r.get("meta", {}), "versionId": "1"}
    by_type: dict[str, list[JSON]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    return Reviewed(
        report=by_type["DiagnosticReport"][0],
        observations=tuple(by_type["Observation"]),
        care_plan=by_type["CarePlan"][0],
        referral_proposal=(by_type.get("ServiceRequest") or [None])[0],
    )


@pytest.fixture
def reviewed(grading: PatientGrading, context: ScreeningContext, advice: AdviceForFhir) -> Reviewed:
    return _as_stored(grading, context, advice)


def sign(**kw: Any) -> SignDecision:
    return SignDecision(practitioner_ref=DOCTOR, signed_at=SIGNED_AT, **kw)


def _entries(plan_bundle: JSON, rtype: str) -> list[JSON]:
    return [e for e in plan_bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _labels(resource: JSON) -> set[str]:
    return {s["code"] for s in resource["meta"]["security"]}


def test_first_signoff_makes_everything_final_with_if_match(reviewed: Reviewed) -> None:
    plan = plan_signoff(reviewed, sign(advice_texts=("Aim for HbA1c < 7.5%.", "Refer now.")))
    report = _entries(plan.bundle, "DiagnosticReport")[0]
    assert report["request"] == {
        "method": "PUT",
        "url": f"DiagnosticReport/{reviewed.report['id']}",
        "ifMatch": 'W/"1"',
    }
    assert report["resource"]["status"] == "final"
    assert report["resource"]["resultsInterpreter"] == [{"reference": DOCTOR}]
    assert _labels(report["resource"]) == {"AIAST", "CLINAST"}
    assert "requires review" not in report["resource"]["conclusion"]
    assert "reviewed and signed by a clinician" in report["resource"]["conclusion"]
    observations = _entries(plan.bundle, "Observation")
    assert len(observations) == len(reviewed.observations)
    assert {o["resource"]["status"] for o in observations} == {"final"}
    assert all(SIGNED_NOTE in [n["text"] for n in o["resource"]["note"]] for o in observations)
    plan_entry = _entries(plan.bundle, "CarePlan")[0]["resource"]
    assert (plan_entry["status"], plan_entry["intent"]) == ("active", "plan")
    assert plan_entry["author"] == {"reference": DOCTOR}
    texts = [a["detail"]["description"] for a in plan_entry["activity"]]
    assert texts == ["Aim for HbA1c < 7.5%.", "Refer now."]
    # Citations survive the edit.
    assert plan_entry["activity"][0]["detail"]["reasonCode"][0]["coding"][0]["code"] == "GLU-01"
    assert set(plan.statuses.values()) == {"final", "active"}


def test_provenance_names_the_practitioner_and_the_replaced_versions(reviewed: Reviewed) -> None:
    plan = plan_signoff(reviewed, sign(signature_jws="aaa.bbb.ccc"))
    prov_entry = _entries(plan.bundle, "Provenance")[0]
    assert prov_entry["request"] == {"method": "POST", "url": "Provenance"}
    prov = prov_entry["resource"]
    assert prov["meta"]["tag"] == [{"system": SIGNOFF_KEY_SYSTEM, "code": plan.key}]
    assert prov["agent"][0]["who"] == {"reference": DOCTOR}
    assert prov["agent"][0]["type"]["coding"][0]["code"] == "author"
    assert prov["activity"]["coding"][0]["code"] == "LA"
    sig = prov["signature"][0]
    assert sig["type"][0] == {
        "system": codes.SIGNATURE_TYPE,
        "code": "1.2.840.10065.1.12.1.5",
        "display": "Verification Signature",
    }
    assert sig["who"] == {"reference": DOCTOR}
    assert base64.b64decode(sig["data"]) == b"aaa.bbb.ccc"
    assert sig["sigFormat"] == "application/jose"
    targets = {t["reference"] for t in prov["target"]}
    assert f"DiagnosticReport/{reviewed.report['id']}" in targets
    revisions = {e["what"]["reference"] for e in prov["entity"]}
    assert f"DiagnosticReport/{reviewed.report['id']}/_history/1" in revisions
    assert all(e["role"] == "revision" for e in prov["entity"])


def test_no_signature_data_without_a_signer(reviewed: Reviewed) -> None:
    sig = _entries(plan_signoff(reviewed, sign()).bundle, "Provenance")[0]["resource"]
    assert "data" not in sig["signature"][0] and "sigFormat" not in sig["signature"][0]


def test_removed_items_are_dropped_but_not_all(reviewed: Reviewed) -> None:
    plan = plan_signoff(reviewed, sign(advice_texts=("", "Refer now.")))
    activities = _entries(plan.bundle, "CarePlan")[0]["resource"]["activity"]
    assert [a["detail"]["description"] for a in activities] == ["Refer now."]
    with pytest.raises(SignoffInputError, match="at least one"):
        plan_signoff(reviewed, sign(advice_texts=("", "  ")))
    with pytest.raises(SignoffInputError, match="1 advice texts were sent for 2"):
        plan_signoff(reviewed, sign(advice_texts=("only one",)))


def _after(reviewed: Reviewed, plan_bundle: JSON) -> Reviewed:
    """The server's state after the plan: updated resources at version 2."""
    updated = {
        e["request"]["url"]: e["resource"]
        for e in plan_bundle["entry"]
        if e["request"]["method"] == "PUT"
    }

    def bump(r: JSON) -> JSON:
        new = copy.deepcopy(updated.get(f"{r['resourceType']}/{r['id']}", r))
        new["meta"] = {**new["meta"], "versionId": "2"}
        return new

    return Reviewed(
        report=bump(reviewed.report),
        observations=tuple(bump(o) for o in reviewed.observations),
        care_plan=bump(reviewed.care_plan) if reviewed.care_plan else None,
    )


def test_resigning_unchanged_writes_nothing(reviewed: Reviewed) -> None:
    first = plan_signoff(reviewed, sign(advice_texts=("A.", "B.")))
    again = plan_signoff(_after(reviewed, first.bundle), sign(advice_texts=("A.", "B.")))
    assert again.empty and again.statuses == {}


def test_changes_after_final_amend_only_what_changed(reviewed: Reviewed) -> None:
    first = plan_signoff(reviewed, sign(advice_texts=("A.", "B.")))
    later = _after(reviewed, first.bundle)
    plan = plan_signoff(later, sign(advice_texts=("A, revised.", "B."), comment="Checked."))
    assert plan.statuses[f"DiagnosticReport/{reviewed.report['id']}"] == "amended"
    assert plan.statuses[f"CarePlan/{reviewed.care_plan['id']}"] == "active"  # type: ignore[index]
    assert not _entries(plan.bundle, "Observation")  # unchanged: not rewritten
    report = _entries(plan.bundle, "DiagnosticReport")[0]
    assert report["request"]["ifMatch"] == 'W/"2"'
    assert report["resource"]["conclusion"].endswith("Clinician's comment: Checked.")


def test_comment_replaces_an_earlier_comment() -> None:
    base = (
        "Right eye: mild NPDR. AI-generated preliminary result (m 1); requires review and "
        "sign-off by a clinician."
    )
    once = signed_conclusion(base, "first")
    assert (
        once == "Right eye: mild NPDR. AI-generated result (m 1), reviewed and signed by a "
        "clinician. Clinician's comment: first"
    )
    assert signed_conclusion(once, "second").endswith("comment: second")
    assert "first" not in (signed_conclusion(once, None) or "")


def test_referral_order_is_a_new_active_order(
    grading: PatientGrading,
    context: ScreeningContext,
    advice: AdviceForFhir,
    referral: ReferralForFhir,
) -> None:
    reviewed = _as_stored(grading, context, advice, referral)
    order = ReferralOrder(priority="urgent", reason="Referable DR, right eye", eyes=("right",))
    plan = plan_signoff(reviewed, sign(referral=order))
    created = [
        e for e in _entries(plan.bundle, "ServiceRequest") if e["request"]["method"] == "POST"
    ]
    assert len(created) == 1 and created[0]["fullUrl"] == plan.referral_full_url
    req = created[0]["resource"]
    assert (req["status"], req["intent"], req["priority"]) == ("active", "order", "urgent")
    assert req["requester"] == {"reference": DOCTOR}
    assert req["basedOn"] == [{"reference": f"ServiceRequest/{reviewed.referral_proposal['id']}"}]  # type: ignore[index]
    assert _labels(req) == {"AIAST", "CLINAST"}
    proposal = [
        e for e in _entries(plan.bundle, "ServiceRequest") if e["request"]["method"] == "PUT"
    ]
    assert proposal[0]["resource"]["status"] == "completed"
    prov = _entries(plan.bundle, "Provenance")[0]["resource"]
    assert plan.referral_full_url in {t["reference"] for t in prov["target"]}


def test_rejection_cancels_and_revokes_without_clinician_label(reviewed: Reviewed) -> None:
    plan = plan_rejection(
        reviewed,
        RejectDecision(
            practitioner_ref=DOCTOR, rejected_at=SIGNED_AT, reason="Image shows a different patient"
        ),
    )
    assert set(plan.statuses.values()) == {"cancelled", "revoked"}
    report = _entries(plan.bundle, "DiagnosticReport")[0]["resource"]
    assert report["status"] == "cancelled" and _labels(report) == {"AIAST"}
    assert report["conclusion"].endswith("Rejected by a clinician: Image shows a different patient")
    care_plan = _entries(plan.bundle, "CarePlan")[0]["resource"]
    assert care_plan["status"] == "revoked"
    prov = _entries(plan.bundle, "Provenance")[0]["resource"]
    assert prov["activity"]["coding"][0]["code"] == "CANCEL"
    assert prov["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    assert "signature" not in prov
    assert prov["reason"][0]["text"].startswith("Rejected by a clinician")


def test_signed_results_cannot_be_rejected_and_rejected_ones_not_signed(reviewed: Reviewed) -> None:
    first = plan_signoff(reviewed, sign())
    signed = _after(reviewed, first.bundle)
    reject = RejectDecision(practitioner_ref=DOCTOR, rejected_at=SIGNED_AT, reason="x")
    with pytest.raises(SignoffInputError, match="only a preliminary result"):
        plan_rejection(signed, reject)
    rejected = _after(reviewed, plan_rejection(reviewed, reject).bundle)
    with pytest.raises(SignoffInputError, match="cancelled and cannot be signed"):
        plan_signoff(rejected, sign())


def test_key_depends_on_versions_and_content_not_on_time(reviewed: Reviewed) -> None:
    a = signoff_key(reviewed, sign(advice_texts=("A.", "B.")))
    later = SignDecision(
        practitioner_ref=DOCTOR,
        signed_at=datetime(2030, 1, 1, tzinfo=UTC),
        advice_texts=("A.", "B."),
    )
    assert signoff_key(reviewed, later) == a
    assert signoff_key(reviewed, sign(advice_texts=("A!", "B."))) != a
    bumped = reviewed.model_copy(
        update={
            "report": {**reviewed.report, "meta": {**reviewed.report["meta"], "versionId": "9"}}
        }
    )
    assert signoff_key(bumped, sign(advice_texts=("A.", "B."))) != a


def test_bad_decisions_are_refused() -> None:
    with pytest.raises(ValueError, match="practitioner_ref"):
        SignDecision(practitioner_ref="Patient/1", signed_at=SIGNED_AT)
    with pytest.raises(ValueError):
        SignDecision(practitioner_ref=DOCTOR, signed_at=datetime(2024, 1, 1))  # naive time
    with pytest.raises(ValueError):
        RejectDecision(practitioner_ref=DOCTOR, rejected_at=SIGNED_AT, reason="")


def test_referral_after_signing_is_conditional(reviewed: Reviewed) -> None:
    order = ReferralOrder(reason="Referable DR", eyes=("right",))
    with pytest.raises(SignoffInputError, match="sign the result"):
        plan_referral(reviewed.report, order, DOCTOR, SIGNED_AT)
    signed = _after(reviewed, plan_signoff(reviewed, sign()).bundle)
    plan = plan_referral(signed.report, order, DOCTOR, SIGNED_AT)
    sr, prov = plan.bundle["entry"]
    assert sr["request"]["ifNoneExist"].startswith("identifier=")
    assert prov["request"]["ifNoneExist"] == f"_tag={SIGNOFF_KEY_SYSTEM}|{plan.key}"
    assert plan_referral(signed.report, order, DOCTOR, SIGNED_AT).key == plan.key
