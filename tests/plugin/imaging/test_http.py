"""Per-origin credentials, byte caps, redirects and error mapping of the image HTTP layer
(unit tests over httpx.MockTransport; the real-server versions are the integration tests)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from plugin.imaging.config import (
    BasicAuth,
    BearerAuth,
    FhirTokenAuth,
    ImagingLimits,
    ImagingSettings,
    NoAuth,
    OriginCredentials,
)
from plugin.imaging.http import ImageHttp
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed

FHIR = "https://ehr.example.org/fhir/R4"
FHIR_TOKEN = "fhir-access-token-123"


def make_http(
    handler: Callable[[httpx.Request], httpx.Response],
    *creds: OriginCredentials,
    **settings: object,
) -> ImageHttp:
    s = ImagingSettings(credentials=creds, **settings)  # type: ignore[arg-type]
    return ImageHttp(
        s, fhir_base_url=FHIR, fhir_token=lambda: FHIR_TOKEN, transport=httpx.MockTransport(handler)
    )


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"ok", headers={"Content-Type": "image/jpeg"})


def test_configured_bearer_and_basic_credentials_by_longest_prefix() -> None:
    http = make_http(
        ok,
        OriginCredentials(base_url="https://pacs.example.org/", auth=BearerAuth(token="t-outer")),
        OriginCredentials(
            base_url="https://pacs.example.org/dicom-web",
            auth=BasicAuth(username="u", password="p"),
        ),
    )
    basic = "Basic " + base64.b64encode(b"u:p").decode()
    assert http.auth_headers("https://pacs.example.org/dicom-web/studies/1") == {
        "Authorization": basic
    }
    assert http.auth_headers("https://PACS.example.org/other") == {
        "Authorization": "Bearer t-outer"
    }
    # a path prefix matches whole segments only
    assert http.auth_headers("https://pacs.example.org/dicom-web2/x") == {
        "Authorization": "Bearer t-outer"
    }
    http.close()


def test_fhir_token_goes_to_the_fhir_origin_or_where_configured_only() -> None:
    http = make_http(
        ok,
        OriginCredentials(base_url="https://shared-pacs.example.org", auth=FhirTokenAuth()),
        OriginCredentials(base_url="https://ehr.example.org/open", auth=NoAuth()),
    )
    bearer = {"Authorization": f"Bearer {FHIR_TOKEN}"}
    assert http.auth_headers("https://ehr.example.org/dicom-web/studies/1") == bearer
    assert http.auth_headers("https://shared-pacs.example.org/dw") == bearer
    assert http.auth_headers("https://elsewhere.example.org/dw") == {}
    assert http.auth_headers("http://ehr.example.org/dw") == {}  # other scheme: other origin
    assert http.auth_headers("https://ehr.example.org:8443/dw") == {}  # other port
    assert http.auth_headers("https://ehr.example.org/open/x") == {}  # explicitly none
    http.close()
    same_origin_off = make_http(ok, fhir_token_same_origin=False)
    assert same_origin_off.auth_headers("https://ehr.example.org/dw") == {}
    same_origin_off.close()


def test_credentials_are_not_in_repr() -> None:
    cred = OriginCredentials(
        base_url="https://p.example.org", auth=BasicAuth(username="u", password="s3cret")
    )
    assert "s3cret" not in repr(cred) and "s3cret" not in str(ImagingSettings(credentials=(cred,)))


def test_content_length_over_the_cap_is_refused_before_reading() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "1000"}, content=b"x" * 1000)

    http = make_http(big)
    with pytest.raises(ImageFetchFailed, match="exceeds") as exc:
        http.get("https://pacs.example.org/x", "*/*", max_bytes=999)
    assert exc.value.code is FetchErrorCode.TOO_LARGE
    assert http.get("https://pacs.example.org/x", "*/*", max_bytes=1000).body == b"x" * 1000
    http.close()


def test_streamed_body_over_the_cap_is_cut_off() -> None:
    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"a" * 600, b"b" * 600]))  # no Content-Length

    http = make_http(chunked)
    with pytest.raises(ImageFetchFailed, match="exceeds 1000 bytes") as exc:
        http.get("https://pacs.example.org/x", "*/*", max_bytes=1000)
    assert exc.value.code is FetchErrorCode.TOO_LARGE
    http.close()


def test_redirects_followed_within_the_origin_only() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.path} {request.headers.get('Authorization')}")
        if request.url.path == "/a":
            return httpx.Response(302, headers={"Location": "/b"})
        if request.url.path == "/b":
            return httpx.Response(200, content=b"B")
        return httpx.Response(302, headers={"Location": "https://evil.example.org/steal"})

    http = make_http(
        handler,
        OriginCredentials(base_url="https://pacs.example.org", auth=BearerAuth(token="pacs-t")),
    )
    assert http.get("https://pacs.example.org/a", "*/*").body == b"B"
    assert seen == ["/a Bearer pacs-t", "/b Bearer pacs-t"]
    with pytest.raises(ImageFetchFailed, match="another origin") as exc:
        http.get("https://pacs.example.org/c", "*/*")
    assert exc.value.code is FetchErrorCode.FORBIDDEN_SOURCE
    assert all("evil" not in s for s in seen)
    http.close()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, FetchErrorCode.UNAUTHORIZED),
        (403, FetchErrorCode.UNAUTHORIZED),
        (404, FetchErrorCode.NOT_FOUND),
        (406, FetchErrorCode.UNSUPPORTED),
        (500, FetchErrorCode.UNAVAILABLE),
        (503, FetchErrorCode.UNAVAILABLE),
    ],
)
def test_status_codes_map_to_typed_errors(status: int, code: FetchErrorCode) -> None:
    http = make_http(lambda r: httpx.Response(status, content=b"server text with secrets"))
    with pytest.raises(ImageFetchFailed) as exc:
        http.get("https://pacs.example.org/x", "*/*")
    assert exc.value.code is code
    assert f"HTTP {status}" in exc.value.reason and "secrets" not in exc.value.reason
    http.close()


def test_timeouts_and_connection_errors_never_echo_the_token() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out {request.headers['Authorization']}", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['Authorization']}", request=request)

    for handler, code in ((timeout, FetchErrorCode.TIMEOUT), (refused, FetchErrorCode.UNAVAILABLE)):
        http = make_http(handler, limits=ImagingLimits(timeout_s=1))
        with pytest.raises(ImageFetchFailed) as exc:
            http.get(f"{FHIR}/Binary/1", "*/*")
        assert exc.value.code is code
        assert FHIR_TOKEN not in str(exc.value) and exc.value.__cause__ is None
        http.close()


def test_only_allowed_bases_are_fetched() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/dicom-web/hop":
            return httpx.Response(302, headers={"Location": "/admin"})
        return httpx.Response(200, content=b"ok")

    http = make_http(handler, allowed_bases=("https://pacs.example.org/dicom-web",))
    assert http.get("https://pacs.example.org/dicom-web/studies/1", "*/*").body == b"ok"
    for url in ("https://pacs.example.org/admin", "http://169.254.169.254/latest/meta-data"):
        with pytest.raises(ImageFetchFailed, match="not an allowed base") as exc:
            http.get(url, "*/*")
        assert exc.value.code is FetchErrorCode.FORBIDDEN_SOURCE
    with pytest.raises(ImageFetchFailed, match="not an allowed base"):  # nor by redirect
        http.get("https://pacs.example.org/dicom-web/hop", "*/*")
    assert seen == [
        "https://pacs.example.org/dicom-web/studies/1",
        "https://pacs.example.org/dicom-web/hop",
    ]
    http.close()
