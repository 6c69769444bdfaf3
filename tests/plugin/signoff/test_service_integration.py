"""SignoffService against the real FHIR server: sign, repeat, conflict, amend, reject,
referral, the pair kept; every check reads the server back over HTTP."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from fhir_mappers.outbound.signoff import ReferralOrder
from fhir_mappers.outbound.signoff_resources import SIGNOFF_KEY_SYSTEM
from plugin.fhir import HttpFhirGateway
from plugin.signoff import (
    AdviceOrigin,
    ContentSigner,
    RejectRequest,
    SignoffConflict,
    SignoffNotAllowed,
    SignoffService,
    SignRequest,
    WrittenRefs,
)
from plugin.store.store import Store, open_store
from smart_launch import SigningKey

pytestmark = pytest.mark.integration
DOCTOR = "Practitioner/doc-signoff"
ORIGIN = AdviceOrigin(
    lang="en",
    engine="rules",
    model="deepdr-advice-rules@2025.1.0",
    kb_version="2025.1.0",
    draft_texts=("Aim for an HbA1c below 7%.", "Refer to ophthalmology."),
    instruction="You rewrite diabetes advice.",
    input="Patient: {age:60}",
)


@pytest.fixture
def store(tmp_path: object) -> Store:
    return open_store(f"sqlite:///{tmp_path}/signoff.sqlite3")


APP_KEY = SigningKey.generate("ES384")


def service(
    gateway: HttpFhirGateway, store: Store | None = None, signer: bool = False
) -> SignoffService:
    return SignoffService(
        gateway,
        clock=lambda: datetime.now(UTC),
        signer=ContentSigner(APP_KEY, "deepdr-test") if signer else None,
        pairs=store.signoff_pairs if store else None,
        pseudonym_key=b"k" * 32,
    )


def _sign_request(svc: SignoffService, refs: WrittenRefs, **kw: object) -> SignRequest:
    state = svc.load(refs)
    return SignRequest(refs=refs, practitioner_ref=DOCTOR, seen_versions=state.versions, **kw)  # type: ignore[arg-type]


def _provenances(gateway: HttpFhirGateway, refs: WrittenRefs) -> list[dict[str, object]]:
    found = gateway.search("Provenance", [("target", refs.report)])
    return [
        p
        for p in found.resources
        if any(t.get("system") == SIGNOFF_KEY_SYSTEM for t in p.get("meta", {}).get("tag", []))
    ]


def test_sign_makes_final_active_with_provenance_and_keeps_the_pair(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs], store: Store
) -> None:
    refs = written()
    svc = service(gateway, store, signer=True)
    result = svc.sign(
        _sign_request(svc, refs, advice_texts=("Aim for HbA1c < 7.5%.", ""), advice_origin=ORIGIN)
    )
    assert result.outcome == "signed"
    state = svc.load(refs)
    assert state.status == "signed"
    assert state.reviewed.report["status"] == "final"
    assert {o["status"] for o in state.reviewed.observations} == {"final"}
    plan = state.reviewed.care_plan
    assert plan is not None and (plan["status"], plan["intent"]) == ("active", "plan")
    assert [a["detail"]["description"] for a in plan["activity"]] == ["Aim for HbA1c < 7.5%."]
    labels = {s["code"] for s in state.reviewed.report["meta"]["security"]}
    assert labels == {"AIAST", "CLINAST"}
    provs = _provenances(gateway, refs)
    assert len(provs) == 1
    signature = provs[0]["signature"][0]  # type: ignore[index]
    assert signature["sigFormat"] == "application/jose"
    # Anyone with the app's public key can check who signed what.
    public = ECKey.import_key(APP_KEY.public_jwk())
    token = jwt.decode(base64.b64decode(signature["data"]).decode(), public, algorithms=["ES384"])
    assert token.claims["sub"] == DOCTOR and token.claims["signoff_key"] == result.key
    assert len(token.claims["content_sha256"]) == 64
    assert state.last is not None and state.last.kind == "signed"
    assert state.last.practitioner == DOCTOR
    pair = store.signoff_pairs.get(result.key)
    assert pair is not None
    assert pair.draft == "[1] Aim for an HbA1c below 7%.\n[2] Refer to ophthalmology."
    assert pair.signed == "[1] Aim for HbA1c < 7.5%."
    assert pair.patient_ref_hash and "Patient" not in pair.patient_ref_hash


def test_a_repeated_or_concurrent_click_signs_once(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs], fhir_base_url: str
) -> None:
    refs = written(proposal=True)
    svc = service(gateway)
    order = ReferralOrder(priority="urgent", reason="Referable DR, right eye", eyes=("right",))
    request = _sign_request(svc, refs, referral=order)
    outcomes: list[str] = []

    def click() -> None:
        with HttpFhirGateway(fhir_base_url, timeout_s=30) as gw:
            outcomes.append(service(gw).sign(request).outcome)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already-signed", "signed"]
    assert svc.sign(request).outcome == "already-signed"  # a later retry too
    assert len(_provenances(gateway, refs)) == 1
    state = svc.load(refs)
    orders = gateway.search(
        "ServiceRequest", [("subject", state.reviewed.report["subject"]["reference"])]
    )
    intents = sorted((r["intent"], r["status"]) for r in orders.resources)
    assert intents == [("order", "active"), ("proposal", "completed")]
    assert state.referral_order is not None


def test_a_change_by_someone_else_is_a_conflict(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs]
) -> None:
    refs = written()
    svc = service(gateway)
    stale = _sign_request(svc, refs)
    plan = gateway.read("CarePlan", refs.care_plan.split("/")[1])  # type: ignore[union-attr]
    gateway.update({**plan, "description": "edited elsewhere"})
    with pytest.raises(SignoffConflict):
        svc.sign(stale)
    assert svc.load(refs).reviewed.report["status"] == "preliminary"


def test_amend_after_final_and_unchanged_resign(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs]
) -> None:
    refs = written()
    svc = service(gateway)
    texts = ("A.", "B.")
    assert svc.sign(_sign_request(svc, refs, advice_texts=texts)).outcome == "signed"
    assert svc.sign(_sign_request(svc, refs, advice_texts=texts)).outcome == "unchanged"
    amended = svc.sign(_sign_request(svc, refs, advice_texts=texts, comment="Seen by me."))
    assert amended.outcome == "signed"
    state = svc.load(refs)
    assert state.status == "amended"
    assert state.reviewed.report["conclusion"].endswith("Clinician's comment: Seen by me.")
    assert {o["status"] for o in state.reviewed.observations} == {"final"}
    assert len(_provenances(gateway, refs)) == 2


def test_reject_cancels_and_then_cannot_sign(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs]
) -> None:
    refs = written()
    svc = service(gateway)
    state = svc.load(refs)
    req = RejectRequest(refs, DOCTOR, state.versions, "Photo of poor quality; retake")
    assert svc.reject(req).outcome == "rejected"
    assert svc.reject(req).outcome == "already-rejected"
    after = svc.load(refs)
    assert after.status == "rejected" and after.last is not None and after.last.kind == "rejected"
    assert after.reviewed.care_plan["status"] == "revoked"  # type: ignore[index]
    assert {o["status"] for o in after.reviewed.observations} == {"cancelled"}
    with pytest.raises(SignoffNotAllowed):
        svc.sign(_sign_request(svc, refs))


def test_referral_after_signing_is_sent_once(
    gateway: HttpFhirGateway, written: Callable[..., WrittenRefs]
) -> None:
    refs = written()
    svc = service(gateway)
    order = ReferralOrder(reason="Referable DR, right eye", eyes=("right",))
    with pytest.raises(SignoffNotAllowed):
        svc.send_referral(refs, DOCTOR, order)
    svc.sign(_sign_request(svc, refs))
    assert svc.send_referral(refs, DOCTOR, order).outcome == "referral-sent"
    assert svc.send_referral(refs, DOCTOR, order).outcome == "referral-sent"
    subject = svc.load(refs).reviewed.report["subject"]["reference"]
    orders = gateway.search("ServiceRequest", [("subject", subject)]).resources
    assert [(r["intent"], r["status"]) for r in orders] == [("order", "active")]
