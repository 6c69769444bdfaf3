"""The review job's payload: the session id is sealed (never in clear), bound to the patient,
and the job key is one per session and patient."""

from __future__ import annotations

import base64

import pytest

from plugin.smart_app.review_job import ReviewJob, _aad, review_job_key
from plugin.smart_app.runtime import SmartRuntime
from smart_launch import SessionError


def test_key_is_per_session_and_patient() -> None:
    base = "https://ehr.example.org/fhir"
    k = review_job_key("sid-1", base, "Patient/1")
    assert k == review_job_key("sid-1", base, "Patient/1")
    assert k != review_job_key("sid-2", base, "Patient/1")
    assert k != review_job_key("sid-1", base, "Patient/2")
    assert "sid-1" not in k


def test_sealed_session_opens_only_for_its_patient(runtime: SmartRuntime) -> None:
    sealed = runtime.job_cipher.encrypt(b"the-session-id", _aad("Patient/1"))
    payload = ReviewJob(
        fhir_base="https://ehr/fhir",
        patient_ref="Patient/1",
        sealed_session=base64.b64encode(sealed).decode(),
    )
    assert b"the-session-id" not in payload.model_dump_json().encode()
    assert runtime.job_cipher.decrypt(sealed, _aad("Patient/1")) == b"the-session-id"
    with pytest.raises(SessionError):
        runtime.job_cipher.decrypt(sealed, _aad("Patient/2"))
