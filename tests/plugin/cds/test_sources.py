"""Source units: which photographs count as current, and when an image source is "the same"
(its index key) or a new version to fetch again."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir_mappers.inbound import clinical_facts_from_fhir
from plugin.cds.sources import current_units, source_key

TODAY = date(2026, 3, 2)
BASE = "https://ehr.example.org/fhir"
PATIENT = {"resourceType": "Patient", "id": "p1"}


def units_of(kit: Any, *resources: dict[str, Any], **kw: Any) -> list[Any]:
    facts = clinical_facts_from_fhir([PATIENT, *resources], as_of=TODAY)
    return current_units(BASE, facts.images, list(resources), TODAY, **kw)


def with_id(resource: dict[str, Any], rid: str, **extra: Any) -> dict[str, Any]:
    return {**resource, "id": rid, **extra}


def test_the_key_follows_the_version_when_the_server_keeps_versions(kit: Any) -> None:
    media = with_id(kit.media("Patient/p1", "right", kit.photo(20)), "m1")
    v1 = source_key(BASE, "Media/m1", {**media, "meta": {"versionId": "1"}})
    assert v1 == source_key(BASE, "Media/m1", {**media, "meta": {"versionId": "1"}})
    assert v1 != source_key(BASE, "Media/m1", {**media, "meta": {"versionId": "2"}})
    assert v1 != source_key(
        "https://other.example.org/fhir", "Media/m1", {**media, "meta": {"versionId": "1"}}
    )


def test_without_versions_the_content_is_the_identity(kit: Any) -> None:
    media = with_id(kit.media("Patient/p1", "right", kit.photo(20)), "m1")
    same = source_key(BASE, "Media/m1", {**media, "meta": {"lastUpdated": "2026-03-01T10:00:00Z"}})
    assert same == source_key(BASE, "Media/m1", media)  # meta alone does not matter
    edited = with_id(kit.media("Patient/p1", "right", kit.photo(160)), "m1")
    assert source_key(BASE, "Media/m1", edited) != same


def test_only_current_photographs_count_newest_first(kit: Any) -> None:
    new = with_id(kit.media("Patient/p1", "right", kit.photo(20), created="2026-02-20"), "new")
    old = with_id(kit.media("Patient/p1", "left", kit.photo(20), created="2024-01-10"), "old")
    undated = with_id(kit.media("Patient/p1", "left", kit.photo(20)), "undated")
    del undated["createdDateTime"]
    units = units_of(kit, new, old, undated)
    assert [u.source_ref for u in units] == ["Media/undated", "Media/new"]
    assert units[1].acquired == date(2026, 2, 20) and units[1].laterality_hint == "right"
    capped = units_of(kit, new, undated, max_sources=1)
    assert [u.source_ref for u in capped] == ["Media/undated"]


def test_an_imaging_study_is_narrowed_to_the_listed_instances() -> None:
    study = {
        "resourceType": "ImagingStudy",
        "id": "s1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "started": "2026-02-01",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3"}],
        "series": [
            {
                "uid": "1.2.3.4",
                "modality": {
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": "OP",
                },
                "instance": [{"uid": "1.2.3.4.2"}, {"uid": "1.2.3.4.1"}],
            }
        ],
    }
    facts = clinical_facts_from_fhir([PATIENT, study], as_of=TODAY)
    (unit,) = current_units(BASE, facts.images, [study], TODAY)
    assert unit.source_ref == "ImagingStudy/s1"
    assert unit.only_series == ("1.2.3.4",)
    assert unit.only_instances == ("1.2.3.4.1", "1.2.3.4.2")


def test_an_image_reference_without_its_resource_is_skipped(kit: Any) -> None:
    media = with_id(kit.media("Patient/p1", "right", kit.photo(20)), "m1")
    facts = clinical_facts_from_fhir([PATIENT, media], as_of=TODAY)
    assert current_units(BASE, facts.images, [], TODAY) == []
