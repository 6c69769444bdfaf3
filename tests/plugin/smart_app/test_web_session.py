"""Per-launch slot cookies: the callback finds its session by state, pages by slot, and
stale or surplus slots are dropped."""

from __future__ import annotations

import time

from plugin.smart_app.runtime import SmartRuntime
from plugin.smart_app.web_session import (
    MAX_SLOTS,
    cookie_name,
    find_pending,
    load_slot,
    new_slot,
    slot_cookies,
    stale_slots,
)
from smart_launch import SmartSession
from smart_launch.discovery import SmartConfiguration
from smart_launch.session import PendingAuthorization, new_session_id


def session(state: str = "s" * 43, created: float | None = None) -> SmartSession:
    now = created if created is not None else time.time()
    return SmartSession(
        session_id=new_session_id(),
        iss="https://ehr.example.org/fhir",
        launch_kind="ehr",
        client_id="deepdr",
        config=SmartConfiguration(
            authorization_endpoint="https://ehr.example.org/auth/authorize",
            token_endpoint="https://ehr.example.org/auth/token",
        ),
        requested_scope="launch openid",
        pending=PendingAuthorization(
            state=state,
            code_verifier="v" * 64,
            redirect_uri="https://deepdr.example.org/smart/callback",
            requested_scope="launch openid",
            created_at=now,
        ),
        created_at=now,
    )


def test_slots_are_random_and_well_formed() -> None:
    a, b = new_slot(), new_slot()
    assert a != b
    cookies = {cookie_name(a): "x", cookie_name(b): "y", "dd_../etc": "z", "other": "w"}
    assert slot_cookies(cookies) == {a: "x", b: "y"}


def test_callback_finds_its_session_by_state_only(runtime: SmartRuntime) -> None:
    mine, other = session("state-mine" * 4), session("state-other" * 4)
    for s in (mine, other):
        runtime.sessions.save(s)
    cookies = {
        cookie_name("slotAAAAAA"): mine.session_id,
        cookie_name("slotBBBBBB"): other.session_id,
    }
    found = find_pending(runtime, cookies, "state-mine" * 4)
    assert found is not None and found.slot == "slotAAAAAA"
    assert found.session.session_id == mine.session_id
    assert find_pending(runtime, cookies, "forged") is None
    assert find_pending(runtime, cookies, "") is None
    assert find_pending(runtime, {}, "state-mine" * 4) is None


def test_pages_need_the_slot_cookie(runtime: SmartRuntime) -> None:
    s = session()
    runtime.sessions.save(s)
    cookies = {cookie_name("slotAAAAAA"): s.session_id}
    assert load_slot(runtime, cookies, "slotAAAAAA") is not None
    assert load_slot(runtime, cookies, "slotBBBBBB") is None  # another launch's URL
    assert load_slot(runtime, cookies, "../x") is None
    assert load_slot(runtime, {cookie_name("slotAAAAAA"): "forged-id"}, "slotAAAAAA") is None


def test_stale_and_surplus_slots_are_dropped(runtime: SmartRuntime) -> None:
    cookies = {cookie_name("goneAAAAAA"): "no-such-session"}
    for n in range(MAX_SLOTS + 2):
        s = session(created=1000.0 + n)
        runtime.sessions.save(s)
        cookies[cookie_name(f"slot{n:06d}")] = s.session_id
    dropped = stale_slots(runtime, cookies)
    assert dropped[0] == "goneAAAAAA"
    # Room is left for the launch being made: the oldest go.
    assert dropped[1:] == [f"slot{n:06d}" for n in range(3)]  # 10 alive -> 7 kept + 1 new
