"""Sign-off pairs: stored once per sign-off, exported oldest first in pages."""

from __future__ import annotations

import json

import pytest

from plugin.store import Store
from plugin.store.signoff_pairs import SignoffPair, pseudonymize_ref

KEY = b"k" * 32


def _pair(pair_id: str, signed: str = "Signed advice.") -> SignoffPair:
    return SignoffPair(
        pair_id=pair_id,
        lang="en",
        engine="rules",
        model="advice-rules@0.1.0",
        draft="Draft advice.",
        signed=signed,
        facts={"hba1c": {"value": 8.1, "unit": "%"}},
        patient_ref_hash=pseudonymize_ref("Patient/123", KEY),
    )


def test_add_is_idempotent_on_pair_id(store: Store) -> None:
    assert store.signoff_pairs.add(_pair("CarePlan/1/_history/2")) is True
    assert store.signoff_pairs.add(_pair("CarePlan/1/_history/2", signed="changed")) is False
    got = store.signoff_pairs.get("CarePlan/1/_history/2")
    assert got is not None and got.signed == "Signed advice."
    assert got.facts == {"hba1c": {"value": 8.1, "unit": "%"}}
    assert got.created_at is not None
    assert store.signoff_pairs.count() == 1


def test_iteration_pages_through_everything_in_order(store: Store, clock) -> None:
    ids = []
    for i in range(7):
        ids.append(f"p{i}")
        store.signoff_pairs.add(_pair(f"p{i}"))
        if i % 3 == 0:
            clock.advance(seconds=1)  # some pairs share a timestamp, some do not
    got = [p.pair_id for p in store.signoff_pairs.iter_pairs(page_size=2)]
    assert got == ids


def test_iteration_since(store: Store, clock) -> None:
    store.signoff_pairs.add(_pair("old"))
    clock.advance(hours=1)
    cutoff = clock()
    store.signoff_pairs.add(_pair("new"))
    assert [p.pair_id for p in store.signoff_pairs.iter_pairs(since=cutoff)] == ["new"]


def test_export_record_is_json_and_holds_no_patient_reference(store: Store) -> None:
    store.signoff_pairs.add(_pair("x"))
    [pair] = list(store.signoff_pairs.iter_pairs())
    line = json.dumps(pair.export_record())
    assert "Patient/123" not in line
    assert json.loads(line)["patient_ref_hash"] == pseudonymize_ref("Patient/123", KEY)


def test_pseudonym_depends_on_the_key() -> None:
    assert pseudonymize_ref("Patient/1", KEY) != pseudonymize_ref("Patient/1", b"q" * 32)
    assert pseudonymize_ref("Patient/1", KEY) != pseudonymize_ref("Patient/2", KEY)
    with pytest.raises(ValueError):
        pseudonymize_ref("Patient/1", b"short")


def test_pair_without_engine_is_refused(store: Store) -> None:
    bad = SignoffPair(pair_id="x", lang="en", engine="", model="m", draft="d", signed="s")
    with pytest.raises(ValueError, match="engine"):
        store.signoff_pairs.add(bad)
