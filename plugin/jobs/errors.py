"""What job handlers raise to say how a run ended, and what the queue raises."""

from __future__ import annotations


class JobError(Exception):
    """A handler's failure with a message safe to store and show (no PHI, no tokens).
    `retryable=False` fails the job at once (bad payload, resource gone); retryable ones
    (FHIR server down, timeout) are retried with backoff while attempts remain."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.safe_message = message
        self.retryable = retryable


class LeaseLost(Exception):
    """Raised into a handler (from its progress callback) when its lease was lost: another
    runner may own the job now, so this one must stop without further effects."""


class UnknownJobKind(ValueError):
    """A job kind no handler is registered for."""
