"""CarePlan from an advice draft."""

from __future__ import annotations

from fhir_mappers.outbound import CarePlanItem
from fhir_mappers.outbound.careplan import advice_key, care_plan


def test_careplan_fields(advice, context) -> None:
    plan = care_plan(advice, context, advice_key(context, advice)).resource
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    assert plan["subject"] == {"reference": "Patient/p1"}
    assert plan["addresses"] == [{"reference": "Condition/dm"}]
    assert plan["category"][0]["coding"][0]["code"] == "698360004"
    assert plan["description"] == "Two actions for this visit."
    assert plan["language"] == "en"
    assert plan["meta"]["security"][0]["code"] == "AIAST"
    assert plan["created"] == "2024-05-01T09:05:00+00:00"


def test_one_activity_per_item_in_order(advice, context) -> None:
    plan = care_plan(advice, context, "k").resource
    details = [a["detail"] for a in plan["activity"]]
    assert [d["description"] for d in details] == [i.text for i in advice.items]
    assert all(d["status"] == "not-started" for d in details)
    glucose, eye = details
    assert glucose["code"]["coding"][0]["code"] == "glucose"
    assert glucose["code"]["text"] == "Glucose"
    assert eye["code"]["text"] == "Eye"  # no title given: derived from the section code
    assert glucose["scheduledString"].startswith("Soon")
    assert eye["scheduledString"].startswith("Urgent")
    assert glucose["reasonCode"][0]["coding"][0]["code"] == "GLU-01"
    assert glucose["reasonCode"][0]["text"] == "ADA 2025 §6, rec. 6.5b"
    assert "text" not in eye["reasonCode"][0]  # no citation


def test_supporting_info_lists_each_fact_source_once(advice, context) -> None:
    plan = care_plan(advice, context, "k").resource
    assert plan["supportingInfo"] == [
        {"reference": "Observation/hba1c-1"},
        {"reference": "Condition/dm"},
    ]


def test_no_condition_no_addresses(advice, context) -> None:
    ctx = context.model_copy(update={"diabetes_condition_ref": None})
    assert "addresses" not in care_plan(advice, ctx, "k").resource


def test_advice_key_is_stable_and_content_sensitive(advice, context) -> None:
    assert advice_key(context, advice) == advice_key(context, advice.model_copy())
    changed = advice.model_copy(
        update={"items": (*advice.items[:1], CarePlanItem(section="diet", text="Less salt."))}
    )
    assert advice_key(context, changed) != advice_key(context, advice)
    other_patient = context.model_copy(update={"patient_ref": "Patient/p2"})
    assert advice_key(other_patient, advice) != advice_key(context, advice)
