"""The write-back transaction Bundle, and malformed input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_mappers.outbound import (
    OutboundInputError,
    ReferralForFhir,
    WriteRequest,
    build_write_bundle,
)
from models.grader.result import ModelInfo


@pytest.fixture
def request_(grading, context, advice, referral) -> WriteRequest:
    return WriteRequest(context=context, grading=grading, advice=advice, referral=referral)


def test_bundle_shape(request_) -> None:
    built = build_write_bundle(request_)
    bundle = built.bundle
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    names = [b.name for b in built.entries]
    assert names == [
        "device/fundus-grader",
        "device/advice-engine",
        "observation/right/image-quality",
        "observation/right/dr-severity",
        "observation/right/macular-edema",
        "observation/right/referable-dr",
        "observation/right/retinal-lesions",
        "observation/left/image-quality",
        "observation/left/dr-severity",
        "diagnostic-report",
        "care-plan",
        "service-request",
        "provenance",
    ]
    for entry in bundle["entry"]:
        req = entry["request"]
        assert req["method"] == "POST"
        assert req["url"] == entry["resource"]["resourceType"]
        if req["url"] == "Provenance":
            assert req["ifNoneExist"].startswith("_tag=")
        else:
            ident = entry["resource"]["identifier"][0]
            assert req["ifNoneExist"] == f"identifier={ident['system']}|{ident['value']}"


def test_internal_references_resolve_and_point_where_they_should(request_) -> None:
    built = build_write_bundle(request_)
    url = {b.name: b.full_url for b in built.entries}
    res = {b.name: b.resource for b in built.entries}
    urls = set(url.values())
    for entry in built.bundle["entry"]:
        for ref in _refs(entry["resource"]):
            assert not ref.startswith("urn:") or ref in urls
    report = res["diagnostic-report"]
    assert [r["reference"] for r in report["result"]] == [
        url[n] for n in url if n.startswith("observation/")
    ]
    assert (
        res["observation/right/dr-severity"]["device"]["reference"] == url["device/fundus-grader"]
    )
    sr = res["service-request"]
    assert [r["reference"] for r in sr["reasonReference"]] == [
        url["diagnostic-report"],
        url["observation/right/referable-dr"],
    ]
    prov = res["provenance"]
    assert {t["reference"] for t in prov["target"]} == {
        u for n, u in url.items() if not n.startswith(("device/", "provenance"))
    }
    assert {a["who"]["reference"] for a in prov["agent"]} == {
        url["device/fundus-grader"],
        url["device/advice-engine"],
    }
    sources = {e["what"]["reference"] for e in prov["entity"]}
    assert sources == {"Media/m-r1", "ImagingStudy/s-l1", "Observation/hba1c-1", "Condition/dm"}


def test_same_input_same_bundle_identity(request_, context) -> None:
    first = build_write_bundle(request_)
    later = request_.model_copy(
        update={"context": context.model_copy(update={"issued": context.issued.replace(hour=17)})}
    )
    second = build_write_bundle(later)
    assert [e["fullUrl"] for e in first.bundle["entry"]] == [
        e["fullUrl"] for e in second.bundle["entry"]
    ]
    assert [e["request"] for e in first.bundle["entry"]] == [
        e["request"] for e in second.bundle["entry"]
    ]


def test_accepts_json_form(request_) -> None:
    as_json = json.loads(request_.model_dump_json())
    assert build_write_bundle(as_json).bundle == build_write_bundle(request_).bundle


def test_partial_writes(grading, context, advice) -> None:
    only_grading = build_write_bundle(WriteRequest(context=context, grading=grading))
    assert [b.resource_type for b in only_grading.entries].count("CarePlan") == 0
    only_advice = build_write_bundle(WriteRequest(context=context, advice=advice))
    assert [b.name for b in only_advice.entries] == [
        "device/advice-engine",
        "care-plan",
        "provenance",
    ]


def test_referral_without_grading_references_the_server(context) -> None:
    referral = ReferralForFhir(
        reason="referable DR",
        reason_refs=("DiagnosticReport/7",),
        suggested_by=ModelInfo(name="m", version="1"),
    )
    built = build_write_bundle(WriteRequest(context=context, referral=referral))
    res = {b.name: b.resource for b in built.entries}
    assert res["service-request"]["reasonReference"] == [{"reference": "DiagnosticReport/7"}]
    assert [b.name for b in built.entries] == [
        "device/fundus-grader",
        "service-request",
        "provenance",
    ]


def _request_json(request_: WriteRequest) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request_.model_dump_json())
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("context"), r"context: Field required"),
        (lambda d: d["context"].update(patient_ref="123"), r"reference like 'Patient/123'"),
        (lambda d: d["context"].update(patient_ref="Group/1"), r"must reference one of Patient"),
        (lambda d: d["context"].update(effective="2024-05-01T09:00:00"), r"context.effective"),
        (lambda d: d["context"].update(issued="soon"), r"context.issued"),
        (lambda d: d["context"]["image_sources"].update(r1="Binary/1"), r"image_sources"),
        (
            lambda d: d["context"]["image_sources"].update(zz="Media/9"),
            r"image the grading does not have",
        ),
        (
            lambda d: d["grading"]["eyes"][0].update(laterality="middle"),
            r"grading.eyes.0.laterality",
        ),
        (lambda d: d["grading"]["eyes"][0].pop("images"), r"images: Field required"),
        (lambda d: d["advice"].update(items=[]), r"advice.items"),
        (lambda d: d["advice"]["items"][0].update(text="   "), r"must not be blank"),
        (lambda d: d["advice"]["items"][0].update(urgency="whenever"), r"urgency"),
        (lambda d: d["advice"]["items"][0].update(rule_id="a b"), r"rule_id"),
        (lambda d: d["referral"].update(priority="now"), r"referral.priority"),
        (lambda d: d.update(extra=1), r"extra: Extra inputs are not permitted"),
        (lambda d: d.update(grading=None, advice=None, referral=None), r"nothing to write"),
        (lambda d: d.update(grading=None), r"needs suggested_by and reason_refs"),
    ],
)
def test_malformed_input_is_a_typed_one_line_error(request_, edit, message: str) -> None:
    data = _request_json(request_)
    edit(data)
    with pytest.raises(OutboundInputError, match=message) as info:
        build_write_bundle(data)
    assert "\n" not in str(info.value)


def test_not_an_object() -> None:
    with pytest.raises(OutboundInputError, match="expected an object, got list"):
        build_write_bundle([])  # type: ignore[arg-type]


def test_error_messages_do_not_echo_input(request_) -> None:
    data = _request_json(request_)
    data["context"]["patient_ref"] = "Jane Doe"
    with pytest.raises(OutboundInputError) as info:
        build_write_bundle(data)
    assert "Jane" not in str(info.value)


def test_naive_datetime_in_model_is_rejected(context) -> None:
    with pytest.raises(OutboundInputError, match="timezone"):
        from fhir_mappers.outbound.common import instant

        instant(context.effective.replace(tzinfo=None), "effective")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return out + [r for k, v in node.items() if k != "reference" for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
