"""Typed grader errors. Messages are safe to show to callers: no paths beyond what the
caller gave, no PHI, no stack traces."""

from __future__ import annotations


class GraderError(Exception):
    """Base class of grader errors."""


class BadImage(GraderError):
    """The input cannot be graded as given: not an image, corrupt, too large, too small,
    or not a fundus photograph."""


class ModelUnavailable(GraderError):
    """The model bundle is missing, invalid, or does not match its metadata."""
