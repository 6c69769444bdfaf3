"""ImagingStudy / Endpoint planning and the laterality fallbacks (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mappers.imaging import (
    SOP_ENCAPSULATED_PDF,
    SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT,
    ImagingMappingError,
    LateralitySource,
    contained_resource,
    dicomweb_address,
    laterality_for_instance,
    plan_imaging_study,
    resolve_laterality,
    select_dicomweb_address,
    side_of_coding,
    side_of_concept,
    side_of_dicom,
)
from models.grader.result import Laterality

SCT = "http://snomed.info/sct"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
CONN = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"


def series(uid: str, modality: str = "OP", **extra: Any) -> dict[str, Any]:
    return {"uid": uid, "modality": {"system": DCM, "code": modality}, **extra}


def study(*series_items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "id": "s1",
        "status": "available",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3"}],
        "series": list(series_items),
        **extra,
    }


def test_plan_lists_op_series_with_instances_sop_classes_and_endpoints() -> None:
    plan = plan_imaging_study(
        study(
            series(
                "1.2.3.1",
                laterality={"system": SCT, "code": "419161000"},
                bodySite={"system": SCT, "code": "8966001"},
                started="2024-02-03T10:00:00Z",
                endpoint=[{"reference": "Endpoint/series-ep"}],
                instance=[
                    {
                        "uid": "1.2.3.1.1",
                        "number": 1,
                        "sopClass": {
                            "system": "urn:ietf:rfc:3986",
                            "code": f"urn:oid:{SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT}",
                        },
                    }
                ],
            ),
            endpoint=[{"reference": "Endpoint/ep"}],
            started="2024-02-01",
        )
    )
    assert plan.source_ref == "ImagingStudy/s1"
    assert plan.study_uid == "1.2.3"
    assert plan.endpoint_refs == ("Endpoint/ep",)
    assert plan.started is not None and plan.started.isoformat() == "2024-02-01"
    (s,) = plan.series
    assert s.laterality_side == "left" and s.body_site_side == "left"
    assert s.endpoint_refs == ("Endpoint/series-ep",)
    assert s.started is not None and s.started.isoformat() == "2024-02-03"
    assert s.instances[0].sop_class_uid == SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT
    assert s.instances[0].uid == "1.2.3.1.1"


def test_xc_series_needs_an_eye_body_site_and_other_modalities_are_skipped_with_reason() -> None:
    plan = plan_imaging_study(
        study(
            series("1.1", "XC", bodySite={"system": SCT, "code": "18944008"}),
            series("1.2", "XC"),
            series("1.3", "OPT"),
            series("1.4", "XC", bodySite={"system": SCT, "code": "40638003"}),
        )
    )
    assert [s.uid for s in plan.series] == ["1.1", "1.4"]
    assert plan.series[0].body_site_side == "right"
    reasons = {s.uid: s.reason for s in plan.skipped}
    assert "without an eye body site" in reasons["1.2"]
    assert "OPT" in reasons["1.3"]


def test_series_without_modality_takes_the_single_study_modality() -> None:
    plan = plan_imaging_study(study({"uid": "1.1"}, modality=[{"system": DCM, "code": "OP"}]))
    assert [s.uid for s in plan.series] == ["1.1"]
    assert plan.series[0].instances == ()  # -> QIDO-RS at retrieval time


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({**study(), "status": "registered"}, "status is registered"),
        ({**study(), "status": None}, "status is missing"),
        ({**study(), "identifier": []}, "no Study Instance UID"),
        ({**study(), "resourceType": "Media"}, "expected an ImagingStudy"),
        ({**study(), "series": [{"modality": {"code": "OP"}}]}, "malformed at series.0.uid"),
        ({**study(), "series": "nope"}, "malformed at series"),
        ("not a dict", "not a JSON object"),
    ],
)
def test_unusable_studies_raise_a_clear_error(resource: Any, message: str) -> None:
    with pytest.raises(ImagingMappingError, match=message):
        plan_imaging_study(resource)


def test_sop_class_may_be_a_bare_oid() -> None:
    plan = plan_imaging_study(
        study(
            series("1.1", instance=[{"uid": "1.1.1", "sopClass": {"code": SOP_ENCAPSULATED_PDF}}])
        )
    )
    assert plan.series[0].instances[0].sop_class_uid == SOP_ENCAPSULATED_PDF


# --- Laterality ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "side"),
    [
        ("8966001", "left"),
        ("18944008", "right"),
        ("723299002", "left"),
        ("419161000", "left"),
        ("419465000", "right"),
        ("7771000", "left"),
        ("24028007", "right"),
        ("40638003", "both"),
        ("51440002", "both"),
        ("81745001", None),
        ("12345", None),
    ],
)
def test_snomed_sides(code: str, side: str | None) -> None:
    assert side_of_coding({"system": SCT, "code": code}) == side


def test_codes_from_other_systems_name_no_side() -> None:
    assert side_of_coding({"system": "http://loinc.org", "code": "8966001"}) is None
    assert side_of_coding(None) is None


def test_concept_with_disagreeing_codings_names_no_side() -> None:
    agree = {"coding": [{"system": SCT, "code": "8966001"}, {"system": SCT, "code": "419161000"}]}
    disagree = {"coding": [{"system": SCT, "code": "8966001"}, {"system": SCT, "code": "18944008"}]}
    assert side_of_concept(agree) == "left"
    assert side_of_concept(disagree) is None


@pytest.mark.parametrize(
    ("value", "side"), [("L", "left"), ("r", "right"), ("B", "both"), ("U", None), ("", None)]
)
def test_dicom_laterality_values(value: str, side: str | None) -> None:
    assert side_of_dicom(value) == side


def _series_plan(lat: str | None, site: str | None) -> Any:
    extra: dict[str, Any] = {}
    if lat:
        extra["laterality"] = {"system": SCT, "code": lat}
    if site:
        extra["bodySite"] = {"system": SCT, "code": site}
    return plan_imaging_study(study(series("1.1", **extra))).series[0]


def test_fallback_order_series_laterality_then_dicom_then_body_site() -> None:
    r = laterality_for_instance(_series_plan("419465000", None), "R")
    assert (r.laterality, r.source) == (Laterality.RIGHT, LateralitySource.SERIES_LATERALITY)
    r = laterality_for_instance(_series_plan(None, "18944008"), "L")  # DICOM before bodySite
    assert r.laterality is Laterality.UNKNOWN and r.conflicting  # ...but they disagree
    r = laterality_for_instance(_series_plan(None, None), None, "R")
    assert (r.laterality, r.source) == (Laterality.RIGHT, LateralitySource.DICOM_LATERALITY)
    r = laterality_for_instance(_series_plan(None, None), "L", None)
    assert (r.laterality, r.source) == (Laterality.LEFT, LateralitySource.DICOM_IMAGE_LATERALITY)
    r = laterality_for_instance(_series_plan(None, "8966001"), None)
    assert (r.laterality, r.source) == (Laterality.LEFT, LateralitySource.SERIES_BODY_SITE)


def test_unknown_laterality_says_so() -> None:
    r = laterality_for_instance(_series_plan(None, None))
    assert r.laterality is Laterality.UNKNOWN
    assert r.note == "no laterality recorded: eye unknown"
    r = laterality_for_instance(_series_plan(None, "40638003"), "B")
    assert r.laterality is Laterality.UNKNOWN and "both eyes" in (r.note or "")


def test_conflicting_sources_make_the_eye_unknown() -> None:
    r = resolve_laterality(
        [
            (LateralitySource.SERIES_LATERALITY, "left"),
            (LateralitySource.DICOM_IMAGE_LATERALITY, "right"),
        ]
    )
    assert r.laterality is Laterality.UNKNOWN and r.conflicting
    assert "conflicting laterality" in (r.note or "")


# --- Endpoint -----------------------------------------------------------------------------
def endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "id": "ep",
        "status": "active",
        "connectionType": {"system": CONN, "code": "dicom-wado-rs"},
        "payloadType": [{"text": "DICOM"}],
        "address": "https://pacs.example.org/dicom-web/",
        **extra,
    }


def test_active_wado_rs_endpoint_gives_its_base_without_trailing_slash() -> None:
    assert dicomweb_address(endpoint()) == "https://pacs.example.org/dicom-web"


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "off"},
        {"connectionType": {"system": CONN, "code": "dicom-qido-rs"}},
        {"connectionType": {"system": "http://other", "code": "dicom-wado-rs"}},
        {"address": "ftp://pacs.example.org/"},
        {"address": None},
        {"resourceType": "Patient"},
    ],
)
def test_unusable_endpoints_give_no_base(extra: dict[str, Any]) -> None:
    assert dicomweb_address(endpoint(**extra)) is None


def test_selection_takes_the_first_usable_endpoint_and_skips_malformed_ones() -> None:
    bad = {"resourceType": "Endpoint", "connectionType": "not a coding"}
    second = endpoint(address="http://127.0.0.1:1/dw")
    assert select_dicomweb_address([bad, endpoint(status="off"), second]) == "http://127.0.0.1:1/dw"
    assert select_dicomweb_address([]) is None


def test_contained_endpoint_resolution() -> None:
    contained = ({"resourceType": "Endpoint", "id": "pacs"},)
    assert contained_resource(contained, "#pacs") == contained[0]
    assert contained_resource(contained, "#other") is None
    assert contained_resource(contained, "Endpoint/pacs") is None
