"""Card builders and validate_response."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cds_hooks import cards
from cds_hooks.models import CdsResponse

SRC = cards.source(
    "Example service",
    url="https://example.org",
    topic=cards.coding("https://example.org/topics", "bp", "Blood pressure"),
)


def test_same_key_same_uuid_and_different_key_different_uuid() -> None:
    a = cards.card("patient-1:result-7", "A", "info", SRC)
    b = cards.card("patient-1:result-7", "B", "warning", SRC)
    c = cards.card("patient-1:result-8", "A", "info", SRC)
    assert a.uuid == b.uuid != c.uuid
    assert uuid.UUID(str(a.uuid)).version == 5
    s1 = cards.suggestion("k", "Do it")
    assert s1.uuid == cards.suggestion("k", "Other label").uuid
    assert s1.uuid != a.uuid  # cards and suggestions live in different key spaces


def test_fit_summary_keeps_it_under_140_characters_at_a_word_boundary() -> None:
    short = "Referable retinopathy suspected"
    assert cards.fit_summary(f"  {short}\n ") == short
    long_text = "word " * 60
    fitted = cards.fit_summary(long_text)
    assert len(fitted) < 140 and fitted.endswith("…") and "wor…" not in fitted
    assert len(cards.card("k", long_text, "info", SRC).summary) < 140


def test_builder_output_is_spec_valid_and_omits_empties() -> None:
    order = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"}
    card = cards.card(
        "k",
        "Refer to ophthalmology",
        "critical",
        SRC,
        detail="**Why**: grade 3 in the right eye",
        suggestions=[
            cards.suggestion(
                "k:refer",
                "Create referral",
                [cards.create_action("Referral to ophthalmology", order)],
                is_recommended=True,
            )
        ],
        override_reasons=[cards.coding("https://example.org/or", "seen", "Already seen")],
        links=[
            cards.smart_link("Open the app", "https://app.example.org/launch", {"result": "r1"}),
            cards.absolute_link("Guideline", "https://guidelines.example.org/dr"),
        ],
    )
    doc = CdsResponse(cards=[card, cards.card("k2", "FYI", "info", SRC)]).to_json()
    assert cards.validate_response(doc, require_uuids=True) == []
    first = doc["cards"][0]
    assert first["selectionBehavior"] == "at-most-one"
    assert json.loads(first["links"][0]["appContext"]) == {"result": "r1"}
    assert "appContext" not in first["links"][1]
    assert "suggestions" not in doc["cards"][1] and "detail" not in doc["cards"][1]
    assert "systemActions" not in doc


def test_builders_refuse_what_the_spec_forbids() -> None:
    with pytest.raises(ValidationError):
        cards.smart_link("x", "relative/launch")
    with pytest.raises(ValidationError):
        cards.delete_action("Remove", "not-a-reference")
    with pytest.raises(ValidationError):
        cards.card("k", "x", "info", SRC, override_reasons=[cards.coding("s", "c")])
    assert cards.delete_action("Remove", "ServiceRequest/1").resource_id == "ServiceRequest/1"
    assert cards.update_action("Fix", {"resourceType": "Task", "id": "1"}).type == "update"


def _doc(**card: Any) -> dict[str, Any]:
    base = {
        "uuid": str(uuid.uuid4()),
        "summary": "s",
        "indicator": "info",
        "source": {"label": "x"},
    }
    return {"cards": [{**base, **card}]}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"cards": None}, "cards"),
        ({}, "cards: Field required"),
        (_doc(summary="x" * 140), "cards.0.summary"),
        (_doc(detail=""), "cards.0.detail"),
        (_doc(detail=None), "cards.0.detail: null or empty"),
        (_doc(links=[]), "cards.0.links"),
        (_doc(indicator="hard-stop"), "cards.0.indicator"),
        (_doc(suggestions=[{"label": "a"}]), "selectionBehavior is required"),
        (
            _doc(
                suggestions=[
                    {
                        "label": "a",
                        "actions": [
                            {
                                "type": "create",
                                "description": "d",
                                "resource": {"resourceType": "Task", "note": []},
                            }
                        ],
                    }
                ],
                selectionBehavior="any",
            ),
            "resource.note: null or empty",
        ),
        ({"cards": [], "systemActions": []}, "systemActions"),
        ({"cards": [], "extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_validate_response_reports_problems(doc: dict[str, Any], problem: str) -> None:
    problems = cards.validate_response(doc)
    assert any(problem in p for p in problems), problems


def test_empty_cards_is_valid_no_guidance() -> None:
    assert cards.validate_response({"cards": []}) == []


def test_uuid_hygiene_is_optional() -> None:
    doc = {"cards": [{"summary": "s", "indicator": "info", "source": {"label": "x"}}]}
    assert cards.validate_response(doc) == []
    assert cards.validate_response(doc, require_uuids=True) == ["cards.0.uuid: a UUID is required"]
    twice = _doc()
    twice["cards"].append(dict(twice["cards"][0]))
    assert any("unique" in p for p in cards.validate_response(twice))
