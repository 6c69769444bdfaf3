"""The authlib authorization server of the test EHR: authorization code + PKCE (S256 only,
always required), SMART launch context and id_token in the token response, refresh tokens
(with optional rotation), and client_credentials authenticated by private_key_jwt."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from plugin.local_servers.test_ehr.clients import ClientRegistry, EhrClient
from plugin.local_servers.test_ehr.config import TestEhrSettings
from plugin.local_servers.test_ehr.store import (
    AuthorizationCode,
    EhrStore,
    GrantDecision,
    IssuedToken,
    LaunchContext,
)
from plugin.local_servers.test_ehr.urls import EhrUrls
from smart_launch.scopes import split_scope

CLIENT_ASSERTION_ALGS = ["RS384", "ES384"]
MAX_ASSERTION_LIFETIME_S = 300
ASSERTION_LEEWAY_S = 30
TOKEN_AUTH_METHODS = ["none", "client_secret_basic", "private_key_jwt"]


@dataclass(frozen=True)
class EhrContext:
    """What the grants need besides the request: shared by everything in one EHR app."""

    settings: TestEhrSettings
    store: EhrStore
    registry: ClientRegistry
    id_token_key: RSAKey


class SmartPkce(CodeChallenge):
    """PKCE as SMART wants it: S256 only (`plain` refused), required on every request,
    for confidential clients too."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE code_challenge is required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


def wants_refresh_token(scope: str) -> bool:
    granted = split_scope(scope)
    return "offline_access" in granted or "online_access" in granted


def sign_id_token(
    ctx: EhrContext, urls: EhrUrls, client_id: str, decision: GrantDecision, nonce: str | None
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": urls.issuer,
        "sub": decision.user.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + ctx.settings.id_token_lifetime_s,
        "auth_time": now,
    }
    if "fhirUser" in split_scope(decision.scope):
        # Absolute, as many EHRs send it; SMART allows relative or absolute.
        claims["fhirUser"] = f"{urls.fhir}/{decision.user.fhir_user}"
    if nonce:
        claims["nonce"] = nonce
    header = {"alg": "RS256", "kid": ctx.id_token_key.kid or "", "typ": "JWT"}
    return jwt.encode(header, claims, ctx.id_token_key, algorithms=["RS256"])


class SmartAuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    ctx: EhrContext  # set on the subclass built per app

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        data = self.request.payload.data
        state = self.request.payload.state
        urls = EhrUrls.current()
        if not state:
            raise InvalidRequestError("state is required", redirect_uri=redirect_uri)
        aud = data.get("aud") or data.get("resource")
        if aud is None or aud.rstrip("/") != urls.fhir:
            raise InvalidRequestError(
                "aud must be this EHR's FHIR base URL", redirect_uri=redirect_uri, state=state
            )
        launch = data.get("launch")
        if launch is not None:
            if "launch" not in split_scope(self.request.payload.scope):
                raise InvalidScopeError(
                    "launch parameter needs the launch scope", redirect_uri=redirect_uri
                )
            if self.ctx.store.get_launch(launch, self.request.client.get_client_id()) is None:
                raise InvalidRequestError(
                    "unknown or expired launch", redirect_uri=redirect_uri, state=state
                )
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        decision: GrantDecision = request.user
        data = request.payload.data
        self.ctx.store.add_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=decision.scope,
                decision=decision,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                nonce=data.get("nonce"),
                auth_time=int(time.time()),
                expires_at=time.time() + self.ctx.settings.authorization_code_lifetime_s,
            )
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        return self.ctx.store.get_code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.ctx.store.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> GrantDecision:
        return authorization_code.decision

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client = self.request.client
        code: AuthorizationCode = self.request.authorization_code
        # Single use: gone before anything else can fail, so a replay is invalid_grant.
        self.delete_authorization_code(code)
        decision = code.decision
        self.request.user = decision
        token = self.generate_token(
            user=decision,
            scope=code.scope,
            include_refresh_token=wants_refresh_token(code.scope)
            and client.check_grant_type("refresh_token"),
        )
        token["scope"] = code.scope  # SMART: always present, even when empty
        token.update(decision.context.token_params())
        if "openid" in split_scope(code.scope):
            token["id_token"] = sign_id_token(
                self.ctx, EhrUrls.current(), client.get_client_id(), decision, code.nonce
            )
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class SmartRefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    ctx: EhrContext

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        return self.ctx.store.get_by_refresh(refresh_token)

    def authenticate_user(self, refresh_token: IssuedToken) -> GrantDecision:
        assert refresh_token.user is not None  # refresh tokens only come from user grants
        return GrantDecision(refresh_token.user, refresh_token.context, refresh_token.scope)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        if self.INCLUDE_NEW_REFRESH_TOKEN and refresh_token.refresh_token:
            self.ctx.store.revoke_refresh(refresh_token.refresh_token)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        status, token, headers = super().create_token_response()
        old: IssuedToken = self.request.refresh_token
        token.setdefault("scope", old.scope)
        token.update(old.context.token_params())
        return status, token, headers


class SmartClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Backend Services: private_key_jwt only; every requested scope must be pre-authorised
    (SMART: the server SHALL assure the request is within the client's pre-authorised scope)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = self.request.payload.scope
        if not requested:
            raise InvalidRequestError("scope is required")
        client: EhrClient = self.request.client
        if client.filter_scope(requested) != " ".join(split_scope(requested)):
            raise InvalidScopeError("scope exceeds what this client is authorised for")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        status, token, headers = super().create_token_response()
        token.setdefault("scope", self.request.payload.scope)
        return status, token, headers


class SmartPrivateKeyJwt(JWTBearerClientAssertion):
    """private_key_jwt per SMART client-confidential-asymmetric: RS384/ES384, kid required,
    jku (if sent) must be the registered JWKS URL, exp at most five minutes ahead, jti never
    reused, aud = the token endpoint."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, store: EhrStore) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY_S)
        self._store = store

    def __call__(self, query_client: Any, request: Any) -> Any:
        assertion = request.form.get("client_assertion")
        if request.form.get("client_assertion_type") == self.CLIENT_ASSERTION_TYPE and assertion:
            headers, claims = self.extract_assertion(assertion)
            if not isinstance(headers.get("kid"), str):
                raise InvalidClientError(description="client assertion needs a kid header")
            client = query_client(claims.get("sub"))
            jku = headers.get("jku")
            if jku is not None and (client is None or jku != client.jwks_uri):
                raise InvalidClientError(description="jku is not the registered JWKS URL")
        return super().__call__(query_client, request)

    def get_audiences(self) -> list[str]:
        return [EhrUrls.current().token]

    def resolve_client_public_key(self, client: EhrClient) -> KeySet:
        try:
            return client.public_keys()
        except LookupError as exc:
            raise InvalidClientError(description="client keys unavailable") from exc

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_ASSERTION_ALGS)
        except JoseError as exc:
            raise InvalidClientError(description="client assertion signature invalid") from exc
        self.verify_claims(token.claims)
        if int(token.claims["exp"]) > time.time() + MAX_ASSERTION_LIFETIME_S + self.leeway:
            raise InvalidClientError(description="client assertion exp is too far ahead")
        return token.claims

    def validate_jti(self, claims: Any, jti: str) -> bool:
        return self._store.use_jti(str(claims["iss"]), jti, float(claims["exp"]) + self.leeway)


def build_authorization_server(ctx: EhrContext) -> AuthorizationServer:
    settings = ctx.settings

    def save_token(token: dict[str, Any], request: Any) -> None:
        decision: GrantDecision | None = request.user if request.user else None
        previous: IssuedToken | None = getattr(request, "refresh_token", None)
        refresh = token.get("refresh_token")
        if refresh is None and previous is not None and previous.refresh_token:
            refresh = previous.refresh_token  # no rotation: the old refresh token lives on
        now = time.time()
        ctx.store.add_token(
            IssuedToken(
                access_token=token["access_token"],
                client_id=request.client.get_client_id(),
                scope=token.get("scope") or "",
                expires_at=now + int(token.get("expires_in", 0)),
                user=decision.user if decision else None,
                context=decision.context if decision else LaunchContext(),
                refresh_token=refresh,
                refresh_expires_at=(
                    previous.refresh_expires_at
                    if previous is not None and refresh == previous.refresh_token
                    else now + settings.refresh_token_lifetime_s
                )
                if refresh
                else None,
            )
        )

    server = AuthorizationServer(query_client=ctx.registry.query_client, save_token=save_token)
    lifetimes = {
        "authorization_code": settings.access_token_lifetime_s,
        "refresh_token": settings.access_token_lifetime_s,
        "client_credentials": settings.backend_token_lifetime_s,
    }
    server.load_config(
        {"OAUTH2_REFRESH_TOKEN_GENERATOR": True, "OAUTH2_TOKEN_EXPIRES_IN": lifetimes}
    )
    server.register_client_auth_method("private_key_jwt", SmartPrivateKeyJwt(ctx.store))

    code_grant = type("CodeGrant", (SmartAuthorizationCodeGrant,), {"ctx": ctx})
    refresh_grant = type(
        "RefreshGrant",
        (SmartRefreshTokenGrant,),
        {"ctx": ctx, "INCLUDE_NEW_REFRESH_TOKEN": settings.rotate_refresh_tokens},
    )
    server.register_grant(code_grant, [SmartPkce(required=True)])
    server.register_grant(refresh_grant)
    server.register_grant(SmartClientCredentialsGrant)
    return server
