"""One protocol for every language-model backend, and its typed errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

ChatMessages = Sequence[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]


class LlmError(Exception):
    """A language-model backend failed; the message is safe to show (no prompt, no key)."""


class LlmUnavailable(LlmError):
    """The model cannot be loaded or reached (missing files, server down, timeouts)."""


class LlmBadResponse(LlmError):
    """The backend answered, but not with usable text."""


class TextGenerator(Protocol):
    """Chat in, text out. Implementations load lazily: never at import time."""

    @property
    def name(self) -> str: ...

    def generate(self, messages: ChatMessages, *, max_new_tokens: int = 512) -> str: ...
