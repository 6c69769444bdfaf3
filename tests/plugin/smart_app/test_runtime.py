"""The runtime built from settings: client authentication, the content signer, derived keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from plugin.config_loader import ConfigError, settings_from_mapping
from plugin.smart_app.runtime import CookiePolicy, build_runtime
from smart_launch import InMemorySessionBackend, SessionCipher


def _settings(**smart: object) -> object:
    return settings_from_mapping(
        {
            "server": {"public_base_url": "https://deepdr.example.org"},
            "smart": {
                "client_id": "deepdr",
                "session_keys": [SessionCipher.generate_key()],
                **smart,
            },
        }
    )


def test_private_key_jwt_gives_the_client_and_the_signer(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    rt = build_runtime(
        _settings(client_auth="private_key_jwt", private_key_path=str(pem), signing_alg="ES384"),
        InMemorySessionBackend(),
    )  # type: ignore[arg-type]
    try:
        assert rt.client.app.client.method == "private_key_jwt"
        assert rt.signer is not None and rt.signing_key is not None
        assert rt.signing_key.public_jwk()["crv"] == "P-384"
        assert rt.cookies == CookiePolicy(secure=True) and rt.cookies.samesite == "None"
        assert rt.redirect_uri == "https://deepdr.example.org/smart/callback"
    finally:
        rt.close()


def test_public_client_has_no_signer_and_distinct_derived_keys() -> None:
    rt = build_runtime(_settings(), InMemorySessionBackend())  # type: ignore[arg-type]
    try:
        assert rt.client.app.client.method == "none" and rt.signer is None
        assert len({rt.csrf_key, rt.pseudonym_key}) == 2
        token = rt.csrf_token("sid")
        assert rt.csrf_ok("sid", token) and not rt.csrf_ok("other", token)
        assert not rt.csrf_ok("sid", None)
        assert "launch" not in rt.client.app.scopes  # added by the flow itself
    finally:
        rt.close()


def test_unreadable_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="private_key_path"):
        build_runtime(
            _settings(client_auth="private_key_jwt", private_key_path=str(tmp_path / "none.pem")),  # type: ignore[arg-type]
            InMemorySessionBackend(),
        )
