"""The CDS card's appContext as the review page reads it: the screening it names is opened only
when it is the launched patient's, on the launch's FHIR server; anything else is ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.smart_app.app_context import card_context, requested_screening
from plugin.store import Store, open_store
from plugin.store.screenings import NewScreening, ScreeningRecord, ScreeningRepository
from smart_launch import TokenSet

ISS = "https://ehr.example.org/fhir"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/store.sqlite3") as opened:
        yield opened


def screening(repo: ScreeningRepository, patient: str, base: str = ISS) -> ScreeningRecord:
    return repo.save(
        NewScreening(
            fhir_base=base,
            patient_ref=patient,
            screening_key=f"k-{patient}-{base}",
            status="complete",
        )
    )


def tokens(patient: str | None, app_context: object) -> TokenSet:
    text = app_context if isinstance(app_context, str) or app_context is None else None
    if isinstance(app_context, dict):
        text = json.dumps(app_context)
    return TokenSet(access_token="t", patient=patient, app_context=text)


@pytest.mark.parametrize(
    "raw",
    [None, "", "not json", "[1, 2]", '"text"', '{"screening": "bad id!"}', '{"patient": 3}'],
)
def test_what_is_not_our_app_context_is_none(raw: str | None) -> None:
    assert card_context(raw) is None


def test_our_app_context_keeps_patient_and_screening_only() -> None:
    card = card_context('{"patient":"Patient/1","screening":"ab12","view":"dr-screening","x":1}')
    assert card is not None and (card.patient, card.screening) == ("Patient/1", "ab12")


def test_the_named_screening_of_the_launched_patient_is_opened(store: Store) -> None:
    repo = ScreeningRepository(store.db)
    mine = screening(repo, "Patient/p1")
    found = requested_screening(
        tokens("p1", {"patient": "Patient/p1", "screening": mine.id}), ISS + "/", repo
    )
    assert found is not None and found.id == mine.id
    # appContext without "patient": the screening itself must still be the launch's patient's.
    found = requested_screening(tokens("p1", {"screening": mine.id}), ISS, repo)
    assert found is not None and found.id == mine.id


def test_it_never_opens_another_patients_or_servers_screening(store: Store) -> None:
    repo = ScreeningRepository(store.db)
    theirs = screening(repo, "Patient/p2")
    elsewhere = screening(repo, "Patient/p1", base="https://other.example.org/fhir")
    cases = [
        tokens("p1", {"patient": "Patient/p2", "screening": theirs.id}),  # another patient
        tokens("p1", {"patient": "Patient/p1", "screening": theirs.id}),  # lies about it
        tokens("p1", {"screening": theirs.id}),
        tokens("p1", {"patient": "Patient/p1", "screening": elsewhere.id}),  # other server
        tokens("p1", {"patient": "Patient/p1", "screening": "0" * 32}),  # unknown
        tokens(None, {"patient": "Patient/p2", "screening": theirs.id}),  # no launch patient
        tokens("p1", None),
    ]
    for case in cases:
        assert requested_screening(case, ISS, repo) is None
