"""An OpenAI-compatible chat-completions endpoint (vLLM, TGI, Ollama, ...) over httpx,
with a timeout per request and bounded retries on connection errors, timeouts, 429 and 5xx.
Other 4xx are not retried. The API key is sent as a bearer token and never logged."""

from __future__ import annotations

import time
from typing import Any

import httpx

from models.advice.llm.base import ChatMessages, LlmBadResponse, LlmUnavailable

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class OpenAICompatGenerator:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        temperature: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        self._transport = transport

    @property
    def name(self) -> str:
        return f"openai-compatible:{self.model}"

    def generate(self, messages: ChatMessages, *, max_new_tokens: int = 512) -> str:
        body = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_new_tokens,
            "temperature": self.temperature,
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        last = "no attempt made"
        with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    time.sleep(self.backoff_s * (2 ** (attempt - 1)))
                try:
                    resp = client.post(self.url, json=body, headers=headers)
                except httpx.TimeoutException:
                    last = f"timed out after {self.timeout_s:g} s"
                    continue
                except httpx.TransportError as exc:
                    last = f"connection failed ({type(exc).__name__})"
                    continue
                if resp.status_code in _RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                    continue
                if resp.status_code >= 400:
                    raise LlmBadResponse(
                        f"the endpoint refused the request (HTTP {resp.status_code})"
                    )
                return _content(resp)
        raise LlmUnavailable(
            f"chat endpoint unavailable after {self.max_retries + 1} tries: {last}"
        )


def _content(resp: httpx.Response) -> str:
    try:
        data: Any = resp.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmBadResponse("the endpoint's answer is not a chat completion") from exc
    if not isinstance(text, str):
        raise LlmBadResponse("the endpoint's answer has no text content")
    return text
