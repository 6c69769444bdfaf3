"""A scripted clinician at the test EHR, without a browser: clicks a launch button, picks a
patient, ticks scopes on the consent page and submits it, over real HTTP. Tests and the demo
use it to drive a SMART launch end to end; it only follows redirects that stay on the EHR."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx


@dataclass
class HtmlForm:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden/text inputs
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, checked
    radios: list[tuple[str, str, bool]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # name, value


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HtmlForm] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(HtmlForm(a.get("action", ""), a.get("method", "get").lower()))
            return
        if not self.forms or "name" not in a:
            return
        form = self.forms[-1]
        kind = a.get("type", "text").lower()
        if tag == "input" and kind == "checkbox":
            form.checkboxes.append((a["name"], a.get("value", "on"), "checked" in a))
        elif tag == "input" and kind == "radio":
            form.radios.append((a["name"], a.get("value", ""), "checked" in a))
        elif tag == "input" and kind not in ("submit", "button"):
            form.fields.append((a["name"], a.get("value", "")))
        elif tag == "button" or (tag == "input" and kind == "submit"):
            form.buttons.append((a["name"], a.get("value", "")))


def parse_forms(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass(frozen=True)
class Redirect:
    """Where the EHR sent the browser outside itself (the app's launch or redirect URI)."""

    url: str

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))


class EhrUserAgentError(AssertionError):
    """The EHR did not behave as a user would expect (no form, an error page, ...)."""


class EhrUserAgent:
    """Drives the EHR's pages. `decide` answers the consent page: approve with all scopes,
    approve with some unticked, or deny."""

    def __init__(self, ehr_base_url: str, http: httpx.Client | None = None) -> None:
        self.ehr_base_url = ehr_base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=30.0, follow_redirects=False)
        self.last_page: httpx.Response | None = None

    def _on_ehr(self, url: str) -> bool:
        return url.startswith(self.ehr_base_url + "/")

    def open(self, url: str) -> httpx.Response | Redirect:
        """GET `url`, following redirects inside the EHR; a redirect elsewhere is returned."""
        return self._follow(self._http.get(url))

    def _follow(self, response: httpx.Response) -> httpx.Response | Redirect:
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307, 308):
                self.last_page = response
                return response
            target = urljoin(str(response.url), response.headers["Location"])
            if not self._on_ehr(target):
                return Redirect(target)
            response = self._http.get(target)
        raise EhrUserAgentError("too many redirects")

    def submit(
        self,
        page: httpx.Response,
        *,
        button: tuple[str, str] | None = None,
        radio: dict[str, str] | None = None,
        untick: Iterable[str] = (),
    ) -> httpx.Response | Redirect:
        forms = parse_forms(page.text)
        if not forms:
            raise EhrUserAgentError(f"no form on the page (HTTP {page.status_code})")
        form = forms[0]
        unticked = set(untick)
        data = list(form.fields)
        data += [(n, v) for n, v, checked in form.checkboxes if checked and v not in unticked]
        chosen = radio or {}
        radio_names = {n for n, _, _ in form.radios}
        for name in radio_names:
            options = [(v, c) for n, v, c in form.radios if n == name]
            value = chosen.get(name) or next((v for v, c in options if c), options[0][0])
            data.append((name, value))
        if button is not None:
            if button not in form.buttons:
                raise EhrUserAgentError(f"no button {button!r} on the form")
            data.append(button)
        url = urljoin(str(page.url), form.action)
        if form.method == "post":
            response = self._http.post(
                url,
                content=urlencode(data),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            response = self._http.get(f"{url}?{urlencode(data)}")
        return self._follow(response)

    def authorize(
        self,
        authorize_url: str,
        *,
        approve: bool = True,
        untick: Iterable[str] = (),
        patient: str | None = None,
    ) -> Redirect:
        """Open the app's authorize URL, pick `patient` if the EHR asks, answer the consent
        page, and return the redirect back to the app."""
        step = self.open(authorize_url)
        if isinstance(step, httpx.Response) and "patient-picker" in step.text:
            step = self.submit(step, radio={"ehr_patient": patient} if patient else None)
        if isinstance(step, Redirect):
            return step
        if 'id="consent"' not in step.text:
            raise EhrUserAgentError(f"expected the consent page, got HTTP {step.status_code}")
        decision = ("ehr_decision", "approve" if approve else "deny")
        result = self.submit(step, button=decision, untick=untick)
        if not isinstance(result, Redirect):
            raise EhrUserAgentError(f"consent did not redirect (HTTP {result.status_code})")
        return result

    def close(self) -> None:
        self._http.close()
