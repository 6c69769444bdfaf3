"""Typed errors of the SMART client. Every error carries a `user_message`: a sentence safe to
show a clinician (no tokens, no stack traces, no server internals). `str(error)` is a short
technical reason, also free of secrets, for logs."""

from __future__ import annotations

RELAUNCH_HINT = "Please launch the app again from the EHR."


class SmartError(Exception):
    """Base of every error raised by smart_launch."""

    default_user_message = "Signing in to the EHR failed. " + RELAUNCH_HINT

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or self.default_user_message


class SmartDiscoveryError(SmartError):
    """The EHR's SMART configuration could not be fetched, parsed or accepted."""

    default_user_message = (
        "The EHR's sign-in settings could not be read, so the app cannot connect to it. "
        "Ask your EHR administrator to check the app registration."
    )


class InsecureEndpoint(SmartDiscoveryError):
    """An endpoint is not https (plain http is only accepted on loopback addresses)."""


class PkceNotSupported(SmartDiscoveryError):
    """The server does not advertise PKCE S256, which SMART App Launch requires."""


class IssuerNotAllowed(SmartError):
    """A launch named an `iss` this app is not configured to trust."""

    default_user_message = (
        "This app is not registered with the EHR that launched it. "
        "Ask your EHR administrator to check the app registration."
    )


class SmartAuthError(SmartError):
    """The authorization or token exchange failed. `error` is the OAuth 2.0 error code when the
    server sent one (access_denied, invalid_grant, ...)."""

    def __init__(
        self, message: str, *, error: str | None = None, user_message: str | None = None
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.error = error


class AuthorizationDenied(SmartAuthError):
    """The user or the EHR declined the authorization request (access_denied)."""

    default_user_message = (
        "Access to the patient record was not granted, so the app cannot show anything. "
        "To use it, launch it again and approve the requested access."
    )


class StateMismatch(SmartAuthError):
    """The `state` returned to the redirect URI is missing, unknown, already used or wrong:
    the response may be forged (CSRF) or replayed."""

    default_user_message = (
        "This sign-in response does not belong to your session (it may be old or reused). "
        + RELAUNCH_HINT
    )


class IssuerMismatch(SmartAuthError):
    """An `iss` (authorization response, id_token) differs from the expected issuer."""

    default_user_message = (
        "The sign-in response came from a different server than the one the app was "
        "launched from, so it was refused. " + RELAUNCH_HINT
    )


class PkceError(SmartAuthError):
    """The PKCE code verifier is missing or invalid."""


class TokenResponseError(SmartAuthError):
    """The token endpoint answered with something that is not a usable token response."""


class IdTokenInvalid(SmartAuthError):
    """The id_token failed validation (signature, issuer, audience, expiry)."""

    default_user_message = (
        "The EHR's statement of who you are could not be verified, so the app refused it. "
        + RELAUNCH_HINT
    )


class ClientAuthError(SmartError):
    """The client credentials (secret or signing key) are unusable or misconfigured."""

    default_user_message = (
        "The app is not configured correctly to sign in to the EHR. "
        "Ask your administrator to check its credentials."
    )


class TokenExpired(SmartAuthError):
    """The access token has expired and cannot be refreshed (no refresh token)."""

    default_user_message = "Your session with the EHR has expired. " + RELAUNCH_HINT


class RefreshFailed(SmartAuthError):
    """The refresh-token grant failed; the user must launch the app again."""

    default_user_message = "Your session with the EHR could not be renewed. " + RELAUNCH_HINT


class SessionError(SmartError):
    """A stored SMART session could not be read back (tampered, wrong key, bad format)."""

    default_user_message = "Your session could not be restored. " + RELAUNCH_HINT
