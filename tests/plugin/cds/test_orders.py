"""Which draft orders the order hooks speak about, and which they look at."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.cds.orders import draft_orders, order_kind

SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"


def request(system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": code,
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": system, "code": code}]},
        **extra,
    }


@pytest.mark.parametrize(
    ("order", "kind"),
    [
        (request(SNOMED, "722161008"), "exam"),  # diabetic retinal eye exam
        (request(SNOMED, "20067007"), "exam"),  # ocular fundus photography
        (request(CPT, "92229"), "exam"),  # point-of-care automated retinal imaging
        (request(CPT, "92250"), "exam"),  # fundus photography
        (
            request(
                SNOMED,
                "3457005",
                performerType={"coding": [{"system": SNOMED, "code": "394594003"}]},
            ),
            "referral",
        ),
        (request(SNOMED, "3457005"), None),  # a referral to someone else
        (request("http://loinc.org", "4548-4"), None),  # an HbA1c
        (request(CPT, "20067007"), None),  # right code, wrong system
        ({"resourceType": "MedicationRequest", "id": "m"}, None),
    ],
)
def test_order_kind(order: dict[str, Any], kind: str | None) -> None:
    assert order_kind(order) == kind


def test_order_select_looks_at_the_selections_order_sign_at_every_draft() -> None:
    a, b = request(SNOMED, "20067007"), request(SNOMED, "722161008")
    context = {
        "selections": ["ServiceRequest/722161008"],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": a}, {"resource": b}, {}]},
    }
    assert draft_orders(context, selected_only=True) == [b]
    assert draft_orders(context, selected_only=False) == [a, b]
    assert draft_orders({"draftOrders": "not a bundle"}, selected_only=False) == []
