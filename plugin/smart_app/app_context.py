"""What the CDS card that launched the app was about: its smart link's appContext (CDS Hooks
2.0), which the EHR returns with the token (TokenSet.app_context). Our CDS service writes
compact JSON: {"patient": "Patient/1", "screening": "<id>", "model": "name/version",
"images": [sha256...], "view": "dr-screening"} (plugin.cds.assess.app_context).

The appContext never chooses the patient: that is the token's launch context. A screening it
names is opened only when it is that patient's, recorded from the FHIR server of this launch;
anything else (malformed, another patient, unknown id) is ignored and the review shows the
latest screening, as for a launch without a card.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plugin.store.screenings import ScreeningRecord, ScreeningRepository, normalise_base
from smart_launch import TokenSet

log = logging.getLogger("deepdr.smart")


class CardContext(BaseModel):
    """The members of our appContext the app uses; others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    patient: str | None = None
    screening: str | None = Field(default=None, pattern=r"^[A-Za-z0-9\-]{1,64}$")


def card_context(app_context: str | None) -> CardContext | None:
    """The appContext as ours, or None when absent or not a JSON object of that shape."""
    if not app_context:
        return None
    try:
        data = json.loads(app_context)
        return CardContext.model_validate(data) if isinstance(data, dict) else None
    except (ValueError, ValidationError):
        return None


def requested_screening(
    tokens: TokenSet, fhir_base: str, screenings: ScreeningRepository
) -> ScreeningRecord | None:
    """The screening the card named, when it belongs to the launched patient on `fhir_base`
    (the launch's iss); None otherwise."""
    card = card_context(tokens.app_context)
    patient = tokens.patient_reference
    if card is None or card.screening is None or patient is None:
        return None
    if card.patient is not None and card.patient != patient:
        log.warning("appContext names another patient than the launch context; ignored")
        return None
    record = screenings.get(card.screening)
    if (
        record is None
        or record.patient_ref != patient
        or normalise_base(record.fhir_base) != normalise_base(fhir_base)
    ):
        log.info("appContext names no screening of this patient on this server; ignored")
        return None
    return record
