"""One POST to a token endpoint with client authentication; shared by the launch flow, refresh
and Backend Services."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from smart_launch.client_auth import ClientAuthenticator
from smart_launch.errors import SmartAuthError
from smart_launch.http import post_form, require_secure_url
from smart_launch.tokens import OAUTH_ERROR_MESSAGES, TokenResponse, parse_token_response


def request_token(
    http: httpx.Client,
    token_endpoint: str,
    client: ClientAuthenticator,
    form: Mapping[str, str],
    *,
    error_cls: type[SmartAuthError],
    user_messages: Mapping[str, str] = OAUTH_ERROR_MESSAGES,
    allow_loopback_http: bool = True,
) -> TokenResponse:
    require_secure_url(token_endpoint, "token_endpoint", allow_loopback_http=allow_loopback_http)
    auth = client.token_request_auth(token_endpoint)
    try:
        response = post_form(http, token_endpoint, {**form, **auth.form}, auth.headers)
    except httpx.TimeoutException as exc:
        raise error_cls(
            "token endpoint timed out",
            user_message="The EHR did not answer in time. Please try again.",
        ) from exc
    except httpx.HTTPError as exc:
        raise error_cls(
            f"token endpoint unreachable ({type(exc).__name__})",
            user_message="The EHR could not be reached. Please try again.",
        ) from exc
    return parse_token_response(response, error_cls=error_cls, user_messages=user_messages)
