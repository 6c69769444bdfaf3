"""Clinician sign-off, rejection and referral, as plain calls (no Flask).

    service = SignoffService(gateway, clock=utc_now, signer=signer, pairs=store.signoff_pairs)
    state = service.load(refs)                 # what the page shows, with versions
    result = service.sign(SignRequest(...))    # one transaction, If-Match on every update

`gateway` must carry the clinician's own token (the SMART session): the sign-off is the
user's act, never a background credential's. A repeated or concurrent click is safe: the
second transaction fails its If-Match, the service then finds the first one's Provenance by
the sign-off key and answers "already signed"; any other change in between is a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from fhir_mappers.outbound import OutboundError
from fhir_mappers.outbound.signoff import (
    ReferralOrder,
    RejectDecision,
    Reviewed,
    SignDecision,
    SignoffPlan,
    plan_referral,
    plan_rejection,
    plan_signoff,
    signoff_key,
)
from plugin.fhir.errors import FhirConflict
from plugin.fhir.gateway import FhirGateway
from plugin.signoff.errors import SignoffConflict, SignoffInvalid, SignoffNotAllowed
from plugin.signoff.pairs import AdviceOrigin, signoff_pair
from plugin.signoff.signature import ContentSigner, content_digest
from plugin.signoff.state import ReviewState, WrittenRefs, find_signoff, load_review
from plugin.store.signoff_pairs import SignoffPairStore

log = logging.getLogger(__name__)

D = TypeVar("D", SignDecision, RejectDecision)
Outcome = Literal[
    "signed", "already-signed", "unchanged", "rejected", "already-rejected", "referral-sent"
]


@dataclass(frozen=True)
class SignRequest:
    refs: WrittenRefs
    practitioner_ref: str
    seen_versions: Mapping[str, str]  # "Type/id" -> the version the clinician reviewed
    advice_texts: tuple[str, ...] = ()
    comment: str | None = None
    referral: ReferralOrder | None = None
    advice_origin: AdviceOrigin | None = None  # for the (draft, signed) pair


@dataclass(frozen=True)
class RejectRequest:
    refs: WrittenRefs
    practitioner_ref: str
    seen_versions: Mapping[str, str]
    reason: str


@dataclass(frozen=True)
class SignoffResult:
    outcome: Outcome
    key: str
    statuses: dict[str, str] = field(default_factory=dict)


class SignoffService:
    def __init__(
        self,
        gateway: FhirGateway,
        *,
        clock: Callable[[], datetime],
        signer: ContentSigner | None = None,
        pairs: SignoffPairStore | None = None,
        pseudonym_key: bytes | None = None,
    ) -> None:
        self.gateway = gateway
        self._clock = clock
        self._signer = signer
        self._pairs = pairs
        self._pseudonym_key = pseudonym_key

    def load(self, refs: WrittenRefs) -> ReviewState:
        return load_review(self.gateway, refs)

    # --- sign -----------------------------------------------------------------------------

    def sign(self, req: SignRequest) -> SignoffResult:
        state = self.load(req.refs)
        now = self._clock()
        try:
            decision = SignDecision(
                practitioner_ref=req.practitioner_ref,
                signed_at=now,
                advice_texts=req.advice_texts,
                comment=(req.comment or "").strip() or None,
                referral=req.referral,
            )
        except ValueError as exc:
            raise SignoffInvalid(f"sign-off input rejected: {_first_line(exc)}") from None
        seen = _as_seen(state.reviewed, req.seen_versions)
        key = signoff_key(seen, decision)
        if state.versions != dict(req.seen_versions):
            return self._after_conflict(key, "signed")
        if not state.signable:
            raise SignoffNotAllowed(
                f"review status is {state.status}",
                user_message="This result was rejected and can no longer be signed. "
                "Run a new screening to review it again.",
            )
        plan = self._plan(lambda d: plan_signoff(state.reviewed, d), decision)
        if plan.empty:
            return SignoffResult("unchanged", plan.key)
        if self._signer is not None:
            resources = [e["resource"] for e in plan.bundle["entry"]][:-1]  # not the Provenance
            jws = self._signer.sign(
                practitioner_ref=req.practitioner_ref,
                signoff_key=plan.key,
                digest=content_digest(resources),
                at=now,
            )
            plan = self._plan(
                lambda d: plan_signoff(state.reviewed, d),
                decision.model_copy(update={"signature_jws": jws}),
            )
        result = self._send(plan, "signed")
        if result.outcome == "signed" and req.advice_origin is not None:
            self._keep_pair(plan.key, req, state)
        return result

    # --- reject ---------------------------------------------------------------------------

    def reject(self, req: RejectRequest) -> SignoffResult:
        state = self.load(req.refs)
        try:
            decision = RejectDecision(
                practitioner_ref=req.practitioner_ref,
                rejected_at=self._clock(),
                reason=req.reason.strip(),
            )
        except ValueError as exc:
            raise SignoffInvalid(
                f"rejection input rejected: {_first_line(exc)}",
                user_message="Please give a short reason for rejecting the result.",
            ) from None
        key = signoff_key(_as_seen(state.reviewed, req.seen_versions), decision)
        if state.versions != dict(req.seen_versions):
            return self._after_conflict(key, "rejected")
        if state.status != "unsigned":
            raise SignoffNotAllowed(
                f"review status is {state.status}",
                user_message="Only an unsigned AI result can be rejected; a signed one can "
                "be amended.",
            )
        plan = self._plan(lambda d: plan_rejection(state.reviewed, d), decision)
        return self._send(plan, "rejected")

    # --- referral after signing -------------------------------------------------------------

    def send_referral(
        self, refs: WrittenRefs, practitioner_ref: str, order: ReferralOrder
    ) -> SignoffResult:
        state = self.load(refs)
        if state.referral_order is not None:
            return SignoffResult("referral-sent", "")
        if state.reviewed.report is None:
            raise SignoffNotAllowed(
                "no report", user_message="A referral needs a graded photograph to rest on."
            )
        try:
            plan = plan_referral(
                state.reviewed.report,
                order,
                practitioner_ref,
                self._clock(),
                state.reviewed.referral_proposal,
            )
        except OutboundError as exc:
            raise SignoffNotAllowed(
                str(exc), user_message="Sign the result before sending the referral."
            ) from None
        self.gateway.transaction(plan.bundle)  # conditional creates: a repeat is a no-op
        return SignoffResult("referral-sent", plan.key)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _plan(build: Callable[[D], SignoffPlan], decision: D) -> SignoffPlan:
        try:
            return build(decision)
        except OutboundError as exc:
            raise SignoffInvalid(
                f"sign-off cannot be planned: {exc}", user_message=_user_text(exc)
            ) from None

    def _send(self, plan: SignoffPlan, done: Literal["signed", "rejected"]) -> SignoffResult:
        try:
            self.gateway.transaction(plan.bundle)
        except FhirConflict:
            return self._after_conflict(plan.key, done)
        return SignoffResult(done, plan.key, dict(plan.statuses))

    def _after_conflict(self, key: str, done: Literal["signed", "rejected"]) -> SignoffResult:
        """The versions moved on: our own earlier click (its Provenance carries this key),
        or somebody else's change."""
        if find_signoff(self.gateway, key) is not None:
            return SignoffResult("already-signed" if done == "signed" else "already-rejected", key)
        raise SignoffConflict("the reviewed versions are no longer current")

    def _keep_pair(self, key: str, req: SignRequest, state: ReviewState) -> None:
        if self._pairs is None or req.advice_origin is None:
            return
        anchor = state.reviewed.report or state.reviewed.care_plan or {}
        patient = (anchor.get("subject") or {}).get("reference")
        ref_hash = None
        if self._pseudonym_key is not None and isinstance(patient, str):
            ref_hash = hmac.new(self._pseudonym_key, patient.encode(), hashlib.sha256).hexdigest()
        pair = signoff_pair(key, req.advice_origin, req.advice_texts, ref_hash)
        try:
            self._pairs.add(pair)
        except Exception as exc:  # the sign-off itself is done; the pair is a by-product
            log.warning("keeping the sign-off pair failed: %s", type(exc).__name__)


def _as_seen(reviewed: Reviewed, versions: Mapping[str, str]) -> Reviewed:
    """The reviewed resources labelled with the versions the clinician saw (for the key)."""

    def label(resource: dict[str, object] | None) -> dict[str, object] | None:
        if resource is None:
            return None
        ref = f"{resource['resourceType']}/{resource['id']}"
        meta = dict(resource.get("meta") or {})  # type: ignore[call-overload]
        meta["versionId"] = versions.get(ref, meta.get("versionId"))
        return {**resource, "meta": meta}

    return Reviewed(
        report=label(reviewed.report),
        observations=tuple(label(o) or {} for o in reviewed.observations),
        care_plan=label(reviewed.care_plan),
        referral_proposal=label(reviewed.referral_proposal),
    )


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _user_text(exc: Exception) -> str:
    text = str(exc)
    if "at least one advice item" in text:
        return "A signed plan needs at least one advice item; keep at least one."
    if "advice texts were sent" in text:
        return "The advice changed while you were editing it. Reload the page and sign again."
    if "cannot be signed" in text:
        return "This result cannot be signed in its current state."
    return "The sign-off could not be prepared from what was entered. Please check it."
