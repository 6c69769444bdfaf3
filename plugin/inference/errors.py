"""Typed errors of remote inference. They are ModelUnavailable, so the predictor and the
workflow treat a remote model that cannot be used exactly like a local one that cannot be
loaded. Messages are safe to show: the server's origin and what went wrong, never a
token, a tensor or a stack trace."""

from __future__ import annotations

from models.grader.errors import ModelUnavailable


class InferenceServerError(ModelUnavailable):
    """The inference server is down, not ready, too slow, or refused the request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InferenceProtocolError(ModelUnavailable):
    """The server answered something that is not the KServe v2 protocol."""


class ModelMismatch(ModelUnavailable):
    """The remote model's inputs or outputs differ from the bundle's metadata.json."""
