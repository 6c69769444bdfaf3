"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1: success, retries
on 5xx, no retry on 4xx, timeouts, malformed answers, and the advise() fallback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models.advice import Engine, advise, build_draft
from models.advice.llm import LlmBadResponse, LlmUnavailable, OpenAICompatGenerator
from models.advice.prompt import tagged_rules_text
from models.advice.types import ItemOrigin
from models.clinical_facts import ClinicalFacts


@dataclass
class Script:
    """What the fake endpoint answers, one entry per request (the last one repeats)."""

    replies: list[tuple[int, str, float]] = field(default_factory=list)  # status, body, delay
    requests: list[dict[str, object]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


def _completion(text: str) -> str:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]})


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            script.requests.append(json.loads(self.rfile.read(length)))
            script.auth.append(self.headers.get("Authorization"))
            idx = min(len(script.requests) - 1, len(script.replies) - 1)
            status, body, delay = script.replies[idx]
            time.sleep(delay)
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


MESSAGES = [{"role": "user", "content": "hello"}]


def test_success_sends_model_and_key(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(200, _completion("[1] hi"), 0.0)]
    gen = OpenAICompatGenerator(url, "my-model", api_key="secret", max_retries=0)
    assert gen.generate(MESSAGES, max_new_tokens=7) == "[1] hi"
    assert script.requests[0]["model"] == "my-model"
    assert script.requests[0]["max_tokens"] == 7
    assert script.auth == ["Bearer secret"]


def test_retries_on_503_then_succeeds(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(503, "{}", 0.0), (503, "{}", 0.0), (200, _completion("ok"), 0.0)]
    gen = OpenAICompatGenerator(url, "m", max_retries=2, backoff_s=0.01)
    assert gen.generate(MESSAGES) == "ok"
    assert len(script.requests) == 3


def test_gives_up_after_retries(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(500, "{}", 0.0)]
    gen = OpenAICompatGenerator(url, "m", max_retries=1, backoff_s=0.01)
    with pytest.raises(LlmUnavailable, match="HTTP 500"):
        gen.generate(MESSAGES)
    assert len(script.requests) == 2


def test_client_error_is_not_retried(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(400, '{"error": "bad"}', 0.0)]
    gen = OpenAICompatGenerator(url, "m", max_retries=3, backoff_s=0.01)
    with pytest.raises(LlmBadResponse, match="HTTP 400"):
        gen.generate(MESSAGES)
    assert len(script.requests) == 1


def test_timeout_is_retried_then_reported(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(200, _completion("late"), 1.0)]
    gen = OpenAICompatGenerator(url, "m", timeout_s=0.2, max_retries=1, backoff_s=0.01)
    with pytest.raises(LlmUnavailable, match="timed out"):
        gen.generate(MESSAGES)
    assert len(script.requests) == 2


def test_malformed_answer(endpoint: tuple[str, Script]) -> None:
    url, script = endpoint
    script.replies = [(200, '{"choices": []}', 0.0)]
    with pytest.raises(LlmBadResponse):
        OpenAICompatGenerator(url, "m", max_retries=0).generate(MESSAGES)


def test_connection_refused_is_unavailable() -> None:
    gen = OpenAICompatGenerator("http://127.0.0.1:9", "m", timeout_s=1, max_retries=0)
    with pytest.raises(LlmUnavailable, match="connection failed"):
        gen.generate(MESSAGES)


def test_advise_llm_end_to_end(
    endpoint: tuple[str, Script], facts_factory: Callable[..., ClinicalFacts]
) -> None:
    url, script = endpoint
    facts = facts_factory(hba1c=8.0, egfr=70, sbp=128, dbp=78, ldl=2.0, bmi=27, uacr=10)
    rules_text = tagged_rules_text(build_draft(facts))
    script.replies = [(200, _completion(rules_text.replace("[2] ", "[2] Please note: ")), 0.0)]
    draft = advise(facts, engine=Engine.LLM, generator=OpenAICompatGenerator(url, "m"))
    assert draft.engine == Engine.LLM and draft.model == "openai-compatible:m"
    assert draft.items[1].text.startswith("Please note: ")
    assert all(i.origin == ItemOrigin.LLM for i in draft.items)


def test_advise_backend_failure_falls_back_to_rules(
    endpoint: tuple[str, Script], facts_factory: Callable[..., ClinicalFacts]
) -> None:
    url, script = endpoint
    script.replies = [(503, "{}", 0.0)]
    gen = OpenAICompatGenerator(url, "m", max_retries=0)
    draft = advise(facts_factory(hba1c=8.0), engine=Engine.LLM, generator=gen)
    assert all(i.origin == ItemOrigin.FALLBACK and i.text == i.rule_text for i in draft.items)
    assert "language model failed" in draft.verifier_notes[0]
