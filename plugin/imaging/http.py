"""HTTP for image sources (DICOMweb servers, absolute attachment URLs): per-origin
credentials, byte caps while streaming, a whole-request deadline, and safe errors.

The FHIR access token goes only where it belongs: to a base URL explicitly configured with
FhirTokenAuth, or (if allowed) to the FHIR server's own origin. Redirects are followed only
within the same origin. Nothing here logs URLs' paths, headers or bodies.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from plugin.imaging.config import BasicAuth, BearerAuth, FhirTokenAuth, ImagingSettings
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed

log = logging.getLogger(__name__)

TokenProvider = Callable[[], str | None]
USER_AGENT = "deepdr-fhir-imaging/0.1"
MAX_REDIRECTS = 3


class HttpStatusFailed(ImageFetchFailed):
    def __init__(self, code: FetchErrorCode, reason: str, status: int) -> None:
        super().__init__(code, reason)
        self.status = status


@dataclass(frozen=True)
class FetchedBody:
    url: str
    status: int
    content_type: str | None
    body: bytes


def origin_of(url: str) -> str:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme.lower() == "https" else 80)
    return f"{p.scheme.lower()}://{(p.hostname or '').lower()}:{port}"


def status_failure(status: int) -> HttpStatusFailed:
    if status in (401, 403):
        code, why = FetchErrorCode.UNAUTHORIZED, "not authorized"
    elif status in (404, 410):
        code, why = FetchErrorCode.NOT_FOUND, "not found"
    elif status in (406, 415):
        code, why = FetchErrorCode.UNSUPPORTED, "cannot provide an acceptable format"
    elif status == 413:
        code, why = FetchErrorCode.TOO_LARGE, "payload too large"
    else:
        code, why = FetchErrorCode.UNAVAILABLE, "request failed"
    return HttpStatusFailed(code, f"image source answered HTTP {status} ({why})", status)


class ImageHttp:
    """One httpx client for all image sources of a fetch; close() when done."""

    def __init__(
        self,
        settings: ImagingSettings,
        *,
        fhir_base_url: str | None = None,
        fhir_token: TokenProvider | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._fhir_origin = origin_of(fhir_base_url) if fhir_base_url else None
        self._fhir_token = fhir_token
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.limits.timeout_s),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ImageHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _token(self) -> str | None:
        return self._fhir_token() if self._fhir_token else None

    def auth_headers(self, url: str) -> dict[str, str]:
        auth = self._settings.credentials_for(url)
        if isinstance(auth, BearerAuth):
            return {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
        if isinstance(auth, BasicAuth):
            raw = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        if isinstance(auth, FhirTokenAuth) or (
            auth is None
            and self._settings.fhir_token_same_origin
            and self._fhir_origin is not None
            and origin_of(url) == self._fhir_origin
        ):
            token = self._token()
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    def get(
        self,
        url: str,
        accept: str,
        *,
        max_bytes: int | None = None,
        params: Mapping[str, str | list[str]] | None = None,
        ok_statuses: tuple[int, ...] = (200,),
    ) -> FetchedBody:
        """GET with the origin's credentials; raises ImageFetchFailed on any failure."""
        cap = max_bytes or self._settings.limits.max_download_bytes
        deadline = time.monotonic() + self._settings.limits.timeout_s
        start_origin = origin_of(url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if not self._settings.allows(current):
                raise ImageFetchFailed(
                    FetchErrorCode.FORBIDDEN_SOURCE, "image source is not an allowed base URL"
                )
            headers = {"Accept": accept, **self.auth_headers(current)}
            try:
                with self._client.stream("GET", current, headers=headers, params=params) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        nxt = urljoin(current, location) if location else None
                        if nxt is None or origin_of(nxt) != start_origin:
                            raise ImageFetchFailed(
                                FetchErrorCode.FORBIDDEN_SOURCE,
                                "image source redirected to another origin; not followed",
                            )
                        current, params = nxt, None
                        continue
                    log.debug("image GET %s -> %s", origin_of(current), resp.status_code)
                    if resp.status_code not in ok_statuses:
                        raise status_failure(resp.status_code)
                    body = self._read_capped(resp, cap, deadline)
                    return FetchedBody(
                        str(resp.url), resp.status_code, resp.headers.get("content-type"), body
                    )
            except httpx.TimeoutException:
                raise ImageFetchFailed(
                    FetchErrorCode.TIMEOUT, "image source did not answer in time"
                ) from None
            except httpx.HTTPError:
                raise ImageFetchFailed(
                    FetchErrorCode.UNAVAILABLE, "could not reach the image source"
                ) from None
        raise ImageFetchFailed(FetchErrorCode.UNAVAILABLE, "too many redirects")

    @staticmethod
    def _read_capped(resp: httpx.Response, cap: int, deadline: float) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise ImageFetchFailed(
                FetchErrorCode.TOO_LARGE, f"response of {int(declared)} bytes exceeds {cap}"
            )
        chunks: list[bytes] = []
        total = 0
        for chunk in resp.iter_bytes():
            total += len(chunk)
            if total > cap:
                raise ImageFetchFailed(FetchErrorCode.TOO_LARGE, f"response exceeds {cap} bytes")
            if time.monotonic() > deadline:
                raise ImageFetchFailed(FetchErrorCode.TIMEOUT, "image source too slow")
            chunks.append(chunk)
        return b"".join(chunks)
