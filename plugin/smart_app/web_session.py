"""Which SMART session a browser request belongs to.

Each launch gets a short random *slot*; its session id travels in a cookie named after the
slot (`dd_<slot>`, HttpOnly, Path=/smart) and every review URL carries the slot
(`/smart/s/<slot>/...`). Two launches in two tabs (two patients) therefore never share a
session, and the URL alone opens nothing. The OAuth callback has no slot in its URL; it
finds its session among the browser's slot cookies by the `state` it carries (compared in
constant time). Old slot cookies are dropped at each launch.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.wrappers import Response

from plugin.smart_app.runtime import SESSION_TTL_S, SmartRuntime
from smart_launch import SmartError, SmartSession

COOKIE_PREFIX = "dd_"
COOKIE_PATH = "/smart"
SLOT_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
MAX_SLOTS = 8


def new_slot() -> str:
    return secrets.token_urlsafe(9)


def cookie_name(slot: str) -> str:
    return COOKIE_PREFIX + slot


def set_slot_cookie(response: Response, runtime: SmartRuntime, slot: str, session_id: str) -> None:
    policy = runtime.cookies
    response.set_cookie(
        cookie_name(slot),
        session_id,
        max_age=SESSION_TTL_S,
        path=COOKIE_PATH,
        secure=policy.secure,
        httponly=True,
        samesite=policy.samesite,
        partitioned=policy.secure,
    )


def clear_slot_cookie(response: Response, runtime: SmartRuntime, slot: str) -> None:
    policy = runtime.cookies
    response.delete_cookie(
        cookie_name(slot),
        path=COOKIE_PATH,
        secure=policy.secure,
        httponly=True,
        samesite=policy.samesite,
        partitioned=policy.secure,
    )


def slot_cookies(cookies: Mapping[str, str]) -> dict[str, str]:
    """slot -> session id, for well-formed slot cookies only."""
    out = {}
    for name, value in cookies.items():
        if name.startswith(COOKIE_PREFIX):
            slot = name[len(COOKIE_PREFIX) :]
            if SLOT_RE.match(slot) and value:
                out[slot] = value
    return out


@dataclass(frozen=True)
class Located:
    slot: str
    session: SmartSession


def load_slot(runtime: SmartRuntime, cookies: Mapping[str, str], slot: str) -> Located | None:
    if not SLOT_RE.match(slot):
        return None
    session_id = cookies.get(cookie_name(slot))
    if not session_id:
        return None
    try:
        session = runtime.sessions.load(session_id)
    except SmartError:  # tampered, or sealed with a key no longer configured
        return None
    return Located(slot, session) if session is not None else None


def find_pending(runtime: SmartRuntime, cookies: Mapping[str, str], state: str) -> Located | None:
    """The session awaiting this callback's `state`, among the browser's slot cookies."""
    if not state:
        return None
    for slot, session_id in slot_cookies(cookies).items():
        try:
            session = runtime.sessions.load(session_id)
        except SmartError:
            continue
        pending = session.pending if session is not None else None
        if pending is not None and hmac.compare_digest(pending.state.encode(), state.encode()):
            assert session is not None
            return Located(slot, session)
    return None


def stale_slots(runtime: SmartRuntime, cookies: Mapping[str, str]) -> list[str]:
    """Slot cookies to drop: sessions gone, and beyond MAX_SLOTS the oldest."""
    alive: list[tuple[float, str]] = []
    stale: list[str] = []
    for slot, session_id in slot_cookies(cookies).items():
        try:
            session = runtime.sessions.load(session_id)
        except SmartError:
            session = None
        if session is None:
            stale.append(slot)
        else:
            alive.append((session.created_at, slot))
    alive.sort()
    excess = max(0, len(alive) - (MAX_SLOTS - 1))
    return stale + [slot for _, slot in alive[:excess]]
