"""Clinician sign-off (no Flask): load where a screening's write-back stands, sign it (final
/ amended, CarePlan active, optional referral order, Provenance with the clinician's
Verification Signature), reject it, keep the (draft, signed) advice pair, export the pairs.
Planning is pure (fhir_mappers.outbound.signoff); this package does the I/O."""

from plugin.signoff.errors import SignoffConflict, SignoffError, SignoffInvalid, SignoffNotAllowed
from plugin.signoff.pairs import AdviceOrigin, export_pairs, pair_record, signoff_pair
from plugin.signoff.service import (
    RejectRequest,
    SignoffResult,
    SignoffService,
    SignRequest,
)
from plugin.signoff.signature import ContentSigner, content_digest
from plugin.signoff.state import ReviewState, SignoffRecord, WrittenRefs, load_review

__all__ = [
    "AdviceOrigin",
    "ContentSigner",
    "RejectRequest",
    "ReviewState",
    "SignRequest",
    "SignoffConflict",
    "SignoffError",
    "SignoffInvalid",
    "SignoffNotAllowed",
    "SignoffRecord",
    "SignoffResult",
    "SignoffService",
    "WrittenRefs",
    "content_digest",
    "export_pairs",
    "load_review",
    "pair_record",
    "signoff_pair",
]
