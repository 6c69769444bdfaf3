"""PKCE S256 (RFC 7636)."""

from __future__ import annotations

import re

import pytest

from smart_launch.errors import PkceError
from smart_launch.pkce import PkcePair, check_verifier, s256_challenge


def test_s256_matches_the_rfc_7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_generated_pairs_are_valid_distinct_and_s256() -> None:
    a, b = PkcePair.generate(), PkcePair.generate()
    assert a.method == "S256"
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", a.verifier)
    assert a.challenge == s256_challenge(a.verifier)
    assert a.verifier != b.verifier
    assert a.verifier not in repr(a)


@pytest.mark.parametrize("verifier", ["", None, "short", "x" * 129, "a" * 42 + "!"])
def test_bad_verifiers_are_refused(verifier: str | None) -> None:
    with pytest.raises(PkceError):
        check_verifier(verifier)
