"""SMART style documents become CSS variables; anything that is not a plain value is dropped,
and only the EHR's own host is fetched."""

from __future__ import annotations

import httpx

from plugin.smart_app.style import StyleFetcher, css_text, css_variables, same_host

ISS = "https://ehr.example.org/fhir"


def test_documented_keys_with_plain_values_are_kept() -> None:
    variables = css_variables(
        {
            "color_highlight": "#1f6f8b",
            "color_text": "rgb(34, 34, 34)",
            "dim_border_radius": "4px",
            "dim_font_size": 15,
            "font_family_body": "Inter, 'Segoe UI', sans-serif",
            "unknown_key": "#fff",
        }
    )
    assert variables == {
        "--smart-highlight": "#1f6f8b",
        "--smart-text": "rgb(34, 34, 34)",
        "--smart-radius": "4px",
        "--smart-font-size": "15px",
        "--smart-font-body": "Inter, 'Segoe UI', sans-serif",
    }


def test_injection_attempts_are_dropped() -> None:
    hostile = {
        "color_background": "red; } body { display: none",
        "color_error": "url(https://evil.example/x.png)",
        "dim_spacing_size": "1px;background:url(x)",
        "font_family_heading": "x}</style><script>",
        "dim_font_size": True,
    }
    assert css_variables(hostile) == {}
    assert css_text({}) == "/* no EHR style */\n"


def test_only_the_ehr_host_is_fetched() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"color_highlight": "#123456"})

    fetcher = StyleFetcher(httpx.Client(transport=httpx.MockTransport(handler)))
    assert fetcher.variables("https://evil.example.org/style.json", ISS) == {}
    assert fetcher.variables(None, ISS) == {}
    assert seen == []
    url = "https://ehr.example.org/ehr/smart-style.json"
    assert fetcher.variables(url, ISS) == {"--smart-highlight": "#123456"}
    assert fetcher.variables(url, ISS) == {"--smart-highlight": "#123456"}
    assert seen == [url]  # cached
    assert not same_host("http://ehr.example.org/s.json", ISS)  # scheme differs


def test_oversized_or_failed_documents_give_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big.json":
            return httpx.Response(200, content=b'{"color_text": "' + b"a" * 40_000 + b'"}')
        if request.url.path == "/broken.json":
            return httpx.Response(200, content=b"not json")
        return httpx.Response(500)

    fetcher = StyleFetcher(httpx.Client(transport=httpx.MockTransport(handler)))
    for path in ("/big.json", "/broken.json", "/down.json"):
        assert fetcher.variables(f"https://ehr.example.org{path}", ISS) == {}
