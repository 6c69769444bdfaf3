"""Deterministic identifiers: the same input gives the same identifiers, any change to the
patient, images or model gives new ones."""

from __future__ import annotations

import re

from fhir_mappers.outbound.identifiers import (
    full_url,
    identifier,
    if_none_exist,
    image_keys,
    screening_key,
)
from models.grader.result import Laterality, ModelInfo, PatientGrading


def test_screening_key_is_deterministic_and_order_free(image) -> None:
    a, b = image("r1", Laterality.RIGHT), image("l1", Laterality.LEFT)
    one = PatientGrading.from_images([a, b], a.model)
    two = PatientGrading.from_images([b, a], a.model)
    assert screening_key("Patient/1", one) == screening_key("Patient/1", two)
    assert re.fullmatch(r"[0-9a-f]{64}", screening_key("Patient/1", one))


def test_screening_key_changes_with_patient_images_and_model(image) -> None:
    a = image("r1", Laterality.RIGHT)
    base = PatientGrading.from_images([a], a.model)
    key = screening_key("Patient/1", base)
    assert screening_key("Patient/2", base) != key
    other_image = PatientGrading.from_images([image("r2", Laterality.RIGHT)], a.model)
    assert screening_key("Patient/1", other_image) != key
    new_version = ModelInfo(name=a.model.name, version="0.2.0")
    regraded = PatientGrading.from_images(
        [image("r1", Laterality.RIGHT, model=new_version)], new_version
    )
    assert screening_key("Patient/1", regraded) != key


def test_images_are_keyed_by_content_hash_when_known(image) -> None:
    a = image("r1", Laterality.RIGHT)
    no_hash = a.model_copy(update={"sha256": None})
    assert image_keys(PatientGrading.from_images([a], a.model)) == [f"sha256:{a.sha256}"]
    assert image_keys(PatientGrading.from_images([no_hash], a.model)) == ["id:r1"]


def test_full_url_is_a_stable_uuid_urn() -> None:
    ident = identifier("Observation", "abc")
    assert full_url(ident) == full_url(identifier("Observation", "abc"))
    assert full_url(ident) != full_url(identifier("DiagnosticReport", "abc"))
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", full_url(ident))


def test_if_none_exist_escapes_the_value() -> None:
    query = if_none_exist(identifier("Device", "fundus-grader:my&model#1@2.0"))
    assert query == (
        "identifier=https://deepdr-fhir.org/fhir/identifier/model|fundus-grader:my%26model%231@2.0"
    )
