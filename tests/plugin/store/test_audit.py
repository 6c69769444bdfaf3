"""Audit trail: references and codes only; free text is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugin.store import Store
from plugin.store.audit import AuditEntry, AuditOutcome


def test_record_and_read_back(store: Store, clock) -> None:
    entry = AuditEntry(
        actor="Practitioner/77",
        action="sign-off",
        outcome=AuditOutcome.SUCCESS,
        resource_refs=("Patient/123", "CarePlan/abc/_history/2"),
        request_id="req-1f3a",
    )
    stored = store.audit.record(entry)
    assert stored.at == clock()
    clock.advance(seconds=5)
    store.audit.record(AuditEntry(actor="system", action="grade", outcome=AuditOutcome.FAILURE))
    newest_first = store.audit.recent()
    assert [e.action for e in newest_first] == ["grade", "sign-off"]
    assert store.audit.for_request("req-1f3a") == [stored]
    assert store.audit.recent(since=clock() - timedelta(seconds=1))[0].action == "grade"


def test_record_is_idempotent_on_entry_id(store: Store) -> None:
    entry = AuditEntry(actor="system", action="write-back", outcome=AuditOutcome.SUCCESS)
    store.audit.record(entry)
    store.audit.record(entry)
    assert len(store.audit.recent()) == 1


@pytest.mark.parametrize(
    "entry",
    [
        AuditEntry(actor="Dr Jane Smith", action="read", outcome=AuditOutcome.SUCCESS),
        AuditEntry(actor="system", action="read patient John", outcome=AuditOutcome.SUCCESS),
        AuditEntry(
            actor="system",
            action="read",
            outcome=AuditOutcome.SUCCESS,
            resource_refs=("John Doe, born 1960",),
        ),
        AuditEntry(actor="system", action="read", outcome=AuditOutcome.DENIED, request_id="a b"),
    ],
)
def test_free_text_is_refused(store: Store, entry: AuditEntry) -> None:
    with pytest.raises(ValueError):
        store.audit.record(entry)
    assert store.audit.recent() == []
