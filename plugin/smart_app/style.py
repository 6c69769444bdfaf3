"""SMART App Styling: the EHR's `smart_style_url` document, fetched server-side and turned
into CSS custom properties so the app looks at home in the EHR's frame.

Only the documented keys are read, and each value must look like what it is (a colour, a
length, a font list): anything else is dropped, so a style document cannot inject CSS.
The document is fetched only from the EHR's own origin (the `iss` host), with a short
timeout and a size cap, and cached briefly per URL."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

MAX_BYTES = 16 * 1024
TIMEOUT_S = 3.0
CACHE_TTL_S = 600.0

_COLOR = re.compile(
    r"^(#[0-9a-fA-F]{3,8}|rgba?\(\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*,\s*\d{1,3}%?"
    r"(\s*,\s*(0|1|0?\.\d+))?\s*\)|[a-zA-Z]{3,20})$"
)
_DIM = re.compile(r"^\d{1,3}(\.\d{1,3})?(px|rem|em|pt|%)$")
_FONT = re.compile(r"^[A-Za-z0-9 ,'\"\-]{1,120}$")
_NUMBER = re.compile(r"^\d{1,3}(\.\d{1,3})?$")

# SMART style key -> (CSS variable, validator)
STYLE_KEYS: dict[str, tuple[str, re.Pattern[str]]] = {
    "color_background": ("--smart-background", _COLOR),
    "color_error": ("--smart-error", _COLOR),
    "color_highlight": ("--smart-highlight", _COLOR),
    "color_modal_backdrop": ("--smart-backdrop", _COLOR),
    "color_success": ("--smart-success", _COLOR),
    "color_text": ("--smart-text", _COLOR),
    "dim_border_radius": ("--smart-radius", _DIM),
    "dim_font_size": ("--smart-font-size", _DIM),
    "dim_spacing_size": ("--smart-spacing", _DIM),
    "font_family_body": ("--smart-font-body", _FONT),
    "font_family_heading": ("--smart-font-heading", _FONT),
}


def css_variables(style: Mapping[str, object]) -> dict[str, str]:
    """The accepted values as CSS custom properties."""
    out: dict[str, str] = {}
    for key, (var, pattern) in STYLE_KEYS.items():
        value = style.get(key)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and key.startswith("dim_")
        ):
            value = f"{value}px"
        if isinstance(value, str) and pattern.match(value.strip()):
            out[var] = value.strip()
    return out


def css_text(variables: Mapping[str, str]) -> str:
    body = "".join(f"  {k}: {v};\n" for k, v in variables.items())
    return f":root {{\n{body}}}\n" if body else "/* no EHR style */\n"


def same_host(url: str, iss: str) -> bool:
    a, b = urlsplit(url), urlsplit(iss)
    return a.scheme in ("http", "https") and a.scheme == b.scheme and a.netloc == b.netloc


class StyleFetcher:
    def __init__(self, http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def variables(self, url: str | None, iss: str) -> dict[str, str]:
        """CSS variables for the style at `url` ({} when absent, foreign or unusable)."""
        if not url or not same_host(url, iss):
            return {}
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(url)
        if hit is not None and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        found = self._fetch(url)
        with self._lock:
            self._cache[url] = (now, found)
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
        return found

    def _fetch(self, url: str) -> dict[str, str]:
        try:
            with self._http.stream("GET", url, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    return {}
                data = b""
                for chunk in r.iter_bytes():
                    data += chunk
                    if len(data) > MAX_BYTES:
                        return {}
            document = json.loads(data)
        except (httpx.HTTPError, ValueError):
            return {}
        return css_variables(document) if isinstance(document, dict) else {}

    def close(self) -> None:
        self._http.close()
