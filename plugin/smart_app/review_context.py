"""Everything one review request needs, gathered once: the SMART session and what it may do,
the review job, the screening record (the one the launching CDS card named, when it is this
patient's; else the one the job ran), the clinician's FHIR gateway and where the result
stands on the server. Used by the page, the asset routes and the sign-off actions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from models.advice import AdviceContext, AdviceDraft
from models.advice.prompt import rewrite_messages
from models.clinical_facts import ClinicalFacts
from models.grader.result import PatientGrading
from plugin.fhir.gateway import FhirGateway
from plugin.services import Services
from plugin.signoff import AdviceOrigin, ReviewState, SignoffService, WrittenRefs
from plugin.smart_app.app_context import requested_screening
from plugin.smart_app.capabilities import Capabilities
from plugin.smart_app.review_job import start_review_job
from plugin.smart_app.runtime import SmartRuntime
from plugin.smart_app.web_session import Located
from plugin.store.clock import utc_now
from plugin.store.jobs import Job, JobStatus
from plugin.store.screenings import ScreeningRecord, ScreeningRepository
from plugin.workflow.writeback import advice_engine
from smart_launch import SessionTokenProvider, SmartSession, TokenSet

log = logging.getLogger("deepdr.smart")


class NoPatientContext(Exception):
    """The token carries no patient: the app cannot tell whose record to review."""


@dataclass
class ReviewContext:
    services: Services
    runtime: SmartRuntime
    located: Located
    caps: Capabilities
    patient_ref: str
    job: Job | None = None
    record: ScreeningRecord | None = None
    result: dict[str, Any] = field(default_factory=dict)
    grading: PatientGrading | None = None
    draft: AdviceDraft | None = None
    facts: ClinicalFacts | None = None
    refs: WrittenRefs | None = None
    state: ReviewState | None = None
    problems: list[str] = field(default_factory=list)
    # The screening shown is the one the launching CDS card named (appContext), and the
    # review job has since produced a different (newer) one.
    from_card: bool = False
    newer_exists: bool = False

    @property
    def session(self) -> SmartSession:
        return self.located.session

    @property
    def tokens(self) -> TokenSet:
        assert self.session.tokens is not None
        return self.session.tokens

    @property
    def slot(self) -> str:
        return self.located.slot

    @property
    def ready(self) -> bool:
        return self.job is not None and self.job.status == JobStatus.SUCCEEDED

    @property
    def practitioner_ref(self) -> str | None:
        ref = self.session.fhir_user_reference
        return ref if ref and ref.startswith("Practitioner/") and ref.count("/") == 1 else None

    def token(self) -> SessionTokenProvider:
        return SessionTokenProvider(
            self.runtime.client, self.runtime.sessions, self.session.session_id
        )

    @contextmanager
    def gateway(self) -> Iterator[FhirGateway]:
        actor = self.practitioner_ref or f"client:{self.session.client_id}"
        gw = self.services.fhir_gateway(self.session.iss, self.token(), actor)
        try:
            yield gw
        finally:
            close = getattr(gw, "close", None)
            if callable(close):
                close()

    def signoff_service(self, gateway: FhirGateway) -> SignoffService:
        return SignoffService(
            gateway,
            clock=utc_now,
            signer=self.runtime.signer,
            pairs=self.services.store.signoff_pairs,
            pseudonym_key=self.runtime.pseudonym_key,
        )

    def advice_origin(self) -> AdviceOrigin | None:
        """How the draft on the page was made, for the (draft, signed) pair."""
        if self.draft is None or self.facts is None:
            return None
        from plugin.smart_app.review_model import advice_items

        plan = self.state.reviewed.care_plan if self.state is not None else None
        items = advice_items(self.draft, plan)
        context = _context(self.result.get("advice_context"))
        messages = rewrite_messages(self.draft, self.facts, self.grading, context)
        engine = advice_engine(self.draft)
        return AdviceOrigin(
            lang=self.draft.lang.value,
            engine=self.draft.engine.value,
            model=f"{engine.name}@{engine.version}",
            kb_version=self.draft.knowledge_base_version,
            draft_texts=tuple(i.draft_text for i in items),
            instruction=messages[0]["content"],
            input=messages[1]["content"],
        )


def _context(data: Any) -> AdviceContext | None:
    if not isinstance(data, dict):
        return None
    try:
        return AdviceContext.model_validate(data)
    except ValidationError:
        return None


def build_context(
    services: Services, runtime: SmartRuntime, located: Located, *, load_state: bool = True
) -> ReviewContext:
    """Starts the review job when there is none yet; loads what exists so far."""
    tokens = located.session.tokens
    assert tokens is not None
    if tokens.patient_reference is None:
        raise NoPatientContext("the token names no patient")
    caps = Capabilities.from_grant(tokens.granted, tokens.fhir_user)
    ctx = ReviewContext(services, runtime, located, caps, tokens.patient_reference)
    if not caps.can_read:
        return ctx
    ctx.job = start_review_job(
        services,
        runtime,
        located.session.session_id,
        located.session.iss,
        ctx.patient_ref,
        write=caps.can_write,
    )
    if not ctx.ready:
        return ctx
    ctx.result = dict(ctx.job.result or {}) if ctx.job else {}
    screening_id = ctx.result.get("screening_id")
    repo = ScreeningRepository(services.store.db, services.store.clock)
    # The CDS card's screening when it is this patient's; else the one the job just ran.
    card = requested_screening(tokens, located.session.iss, repo)
    if card is not None:
        ctx.record, ctx.from_card = card, True
        ctx.newer_exists = bool(screening_id) and str(screening_id) != card.id
    else:
        ctx.record = repo.get(str(screening_id)) if screening_id else None
    _parse_record(ctx)
    if load_state and ctx.refs is not None:
        with ctx.gateway() as gw:
            ctx.state = ctx.signoff_service(gw).load(ctx.refs)
    return ctx


def _parse_record(ctx: ReviewContext) -> None:
    record = ctx.record
    try:
        if record is not None and record.grading:
            ctx.grading = PatientGrading.model_validate(record.grading)
        if record is not None and record.advice:
            ctx.draft = AdviceDraft.model_validate(record.advice)
        if isinstance(ctx.result.get("facts"), dict):
            ctx.facts = ClinicalFacts.model_validate(ctx.result["facts"])
    except ValidationError:
        log.warning("a stored screening no longer matches the current format")
        ctx.problems.append("Part of the stored screening could not be read; run it again.")
    written = record.written if record is not None else {}
    ctx.refs = WrittenRefs.from_written(written) if written else None


def as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
