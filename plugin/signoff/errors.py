"""Typed sign-off errors. `user_message` is a sentence a clinician can act on; `str(error)` a
short technical reason. Neither holds tokens or patient data."""

from __future__ import annotations


class SignoffError(Exception):
    default_user_message = "The sign-off could not be completed. Please try again."

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or self.default_user_message


class SignoffInvalid(SignoffError):
    """What was submitted cannot be applied (an empty plan, a text too long, a bad field)."""

    default_user_message = "Some of what you entered cannot be saved. Please check it."


class SignoffNotAllowed(SignoffError):
    """The result is in a state that does not allow this (rejected, already final, ...), or
    the session lacks the identity or permission to sign."""

    default_user_message = "This result cannot be signed in its current state."


class SignoffConflict(SignoffError):
    """Someone changed the result since this page was loaded (the If-Match check failed)."""

    default_user_message = (
        "This result was changed after you opened it (perhaps in another window). "
        "Reload the page to see the current version, then sign again."
    )
