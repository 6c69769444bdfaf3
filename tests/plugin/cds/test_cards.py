"""The pure card builders: indicators by severity, the referral suggestion and its
override reasons, retake / pending / unavailable / due cards, stable uuids, limits, and
every response valid under the CDS Hooks 2.0 rules."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cds_hooks.cards import validate_response
from cds_hooks.models import Card, CdsResponse
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    Laterality,
    ModelInfo,
    PatientGrading,
    Quality,
)
from plugin.cds import codes
from plugin.cds.assess import Assessment, ScreeningDue, SmartLaunch
from plugin.cds.background import Pending
from plugin.cds.cards import MAX_CARDS, CardContext, build_cards
from plugin.cds.grading import ImageFailure, ImageState

MODEL = ModelInfo(name="grader", version="1.2.0")
TODAY = date(2026, 3, 2)
CTX = CardContext(service_id="deepdr-patient-view", source_url="https://deepdr.example.org/")
PATIENT = "Patient/p1"


def image(
    eye: str,
    grade: int | None,
    *,
    dme: bool = False,
    gradable: bool = True,
    sha: str = "a",
) -> ImageGrading:
    probs = [0.01] * 5
    if grade is not None:
        probs[grade] = 0.96
    return ImageGrading(
        image_id=f"Media/{eye}-{sha}",
        laterality=Laterality(eye),
        quality=Quality(
            gradable=gradable,
            score=0.9 if gradable else 0.1,
            reasons=() if gradable else ("blurred",),
        ),
        dr_grade=DrGrade(probabilities=tuple(probs), grade=grade)
        if gradable and grade is not None
        else None,  # type: ignore[arg-type]
        referable=BinaryFinding(
            probability=0.9 if (grade or 0) >= 2 else 0.1, positive=(grade or 0) >= 2
        )
        if gradable
        else None,
        dme=BinaryFinding(probability=0.8 if dme else 0.1, positive=dme) if gradable else None,
        model=MODEL,
        sha256=sha * 64,
    )


def state(*images: ImageGrading, **kw: object) -> ImageState:
    grading = PatientGrading.from_images(list(images), MODEL) if images else None
    hashes = tuple(sorted({i.sha256 for i in images if i.sha256}))
    return ImageState(grading=grading, image_hashes=hashes, acquired=date(2026, 2, 20), **kw)  # type: ignore[arg-type]


def cards_for(images: ImageState, **kw: object) -> list[Card]:
    assessment = Assessment(patient_ref=PATIENT, images=images, **kw)  # type: ignore[arg-type]
    cards = build_cards(assessment, CTX, TODAY)
    problems = validate_response(CdsResponse(cards=cards), require_uuids=True)
    assert problems == []
    return cards


@pytest.mark.parametrize(
    ("right", "left", "dme", "indicator"),
    [
        (0, 1, False, "info"),  # nothing referable
        (2, 0, False, "warning"),  # moderate NPDR: referable
        (3, 0, False, "critical"),  # severe NPDR: urgent
        (4, 1, False, "critical"),  # PDR
        (2, 0, True, "critical"),  # referable with macular edema: urgent
    ],
)
def test_result_indicator_follows_severity(
    right: int, left: int, dme: bool, indicator: str
) -> None:
    (card,) = cards_for(state(image("right", right, dme=dme), image("left", left, sha="b")))
    assert card.indicator == indicator
    assert len(card.summary) < 140
    assert card.source.topic is not None and card.source.topic.code == "dr-result"
    assert "grader 1.2.0" in card.source.label
    assert card.source.url == "https://deepdr.example.org/"


def test_referable_result_suggests_a_draft_ophthalmology_referral() -> None:
    (card,) = cards_for(state(image("right", 3), image("left", 0, sha="b")))
    assert card.summary.startswith("AI retinal screening: referable DR suspected (right eye")
    assert card.selection_behavior == "at-most-one"
    (suggestion,) = card.suggestions or []
    assert suggestion.is_recommended is True and "urgent" in suggestion.label
    (action,) = suggestion.actions or []
    assert action.type == "create" and action.description
    req = action.resource or {}
    assert req["resourceType"] == "ServiceRequest"
    assert (req["status"], req["intent"], req["priority"]) == ("draft", "order", "urgent")
    assert req["subject"] == {"reference": PATIENT}
    assert req["performerType"]["coding"][0]["code"] == codes.OPHTHALMOLOGY[0]
    assert req["bodySite"] == [
        {"coding": [{"system": codes.SNOMED, "code": "18944008", "display": "Right eye structure"}]}
    ]
    reasons = card.override_reasons or []
    assert {r.system for r in reasons} == {codes.NON_ADHERENCE_REASON}
    assert all(r.display for r in reasons)
    assert "indication-order-exists" in {r.code for r in reasons}


def test_non_referable_result_has_no_suggestion_and_names_each_eye() -> None:
    (card,) = cards_for(state(image("right", 0), image("left", 1, sha="b")))
    assert card.suggestions is None and card.override_reasons is None
    assert "right eye: no DR" in card.summary and "left eye: mild NPDR" in card.summary
    assert card.detail is not None and "not a diagnosis" in card.detail


def test_card_uuids_are_stable_and_change_with_images_and_model() -> None:
    first = cards_for(state(image("right", 2)))[0]
    again = cards_for(state(image("right", 2)))[0]
    other_photo = cards_for(state(image("right", 2, sha="c")))[0]
    assert first.uuid == again.uuid
    assert first.suggestions and again.suggestions
    assert first.suggestions[0].uuid == again.suggestions[0].uuid
    assert other_photo.uuid != first.uuid
    newer = ImageState(
        grading=PatientGrading.from_images(
            [image("right", 2).model_copy(update={"model": ModelInfo(name="grader", version="2")})],
            ModelInfo(name="grader", version="2"),
        ),
        image_hashes=("a" * 64,),
    )
    assert cards_for(newer)[0].uuid != first.uuid


def test_an_ungradable_eye_gets_a_retake_card_beside_the_other_eyes_result() -> None:
    cards = cards_for(state(image("right", 0), image("left", None, gradable=False, sha="b")))
    assert [c.indicator for c in cards] == ["warning", "info"]
    retake, result = cards
    assert "retake" in retake.summary and "left eye" in retake.summary
    assert retake.detail is not None and "blurred" in retake.detail
    (suggestion,) = retake.suggestions or []
    req = (suggestion.actions or [])[0].resource or {}
    assert req["code"]["coding"][0]["code"] == codes.FUNDUS_PHOTOGRAPHY[0]
    assert req["bodySite"][0]["coding"][0]["code"] == "8966001"
    assert "right eye: no DR" in result.summary


def test_no_gradable_eye_means_only_the_retake_card() -> None:
    (card,) = cards_for(state(image("right", None, gradable=False)))
    assert card.indicator == "warning" and "retake" in card.summary


def test_pending_card_while_grading_in_the_background() -> None:
    (card,) = cards_for(ImageState(pending=Pending("job", "queued", "j1"), waiting=2))
    assert card.summary == "AI grading of 2 new fundus photos in progress"
    assert card.indicator == "info" and card.suggestions is None


def test_failed_background_grading_and_unreadable_images_are_said_plainly() -> None:
    failures = (
        ImageFailure("Media/9", "Media/9", "corrupt", "image data cannot be decoded"),
        ImageFailure("Media/8", "Media/8", "not-found", "not found"),
    )
    (card,) = cards_for(ImageState(failures=failures))
    assert card.summary == (
        "2 fundus photos could not be used for AI grading: corrupt (1), not-found (1)"
    )
    assert card.detail is not None and "Media/9" in card.detail
    (failed,) = cards_for(ImageState(pending=Pending("job", "failed", "j1"), waiting=1))
    assert "could not be used" in failed.summary


def test_no_grader_is_an_information_card() -> None:
    (card,) = cards_for(ImageState(grader_unavailable=True))
    assert "unavailable" in card.summary and card.indicator == "info"


def test_nothing_known_and_nothing_due_means_no_card() -> None:
    assert cards_for(ImageState()) == []


def test_screening_due_suggests_an_exam_or_photography() -> None:
    (card,) = cards_for(ImageState(), due=ScreeningDue(last_exam=date(2024, 5, 1)))
    assert (
        card.summary == "Diabetic retinopathy screening due: last retinal exam on record 2024-05-01"
    )
    suggestions = card.suggestions or []
    assert [s.is_recommended for s in suggestions] == [True, False]
    codes_ordered = [
        ((s.actions or [])[0].resource or {})["code"]["coding"][0]["code"] for s in suggestions
    ]
    assert codes_ordered == [codes.DIABETIC_RETINAL_EXAM[0], codes.FUNDUS_PHOTOGRAPHY[0]]
    assert card.override_reasons and all(r.display for r in card.override_reasons)
    (never,) = cards_for(ImageState(), due=ScreeningDue(last_exam=None))
    assert never.summary.endswith("no retinal exam on record")


def test_smart_link_carries_app_context_as_json_text() -> None:
    smart = SmartLaunch(
        "https://deepdr.example.org/launch", {"patient": PATIENT, "view": "dr-screening"}
    )
    (card,) = cards_for(state(image("right", 2)), smart=smart)
    (link,) = card.links or []
    assert link.type == "smart" and link.url == smart.url
    assert json.loads(link.app_context or "") == {"patient": PATIENT, "view": "dr-screening"}


def test_never_more_than_a_few_cards_most_urgent_first() -> None:
    failures = (ImageFailure("Media/9", "Media/9", "corrupt", "bad"),)
    images = state(
        image("right", 4),
        image("left", None, gradable=False, sha="b"),
        failures=failures,
        pending=Pending("local", "running"),
        waiting=1,
    )
    cards = cards_for(images)
    assert len(cards) == MAX_CARDS
    assert [c.indicator for c in cards] == ["critical", "warning", "info"]
    assert len({c.uuid for c in cards}) == MAX_CARDS


def test_a_background_run_that_ended_without_these_results_is_not_in_progress() -> None:
    (card,) = cards_for(ImageState(pending=Pending("local", "succeeded"), waiting=2))
    assert card.summary.startswith("2 fundus photos could not be used")
