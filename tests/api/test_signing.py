"""HMAC-SHA256 signatures of the bot-to-API webhooks."""

from __future__ import annotations

import pytest

from api.signing import sign, verify

# RFC 4231, test case 2
KEY = "Jefe"
DATA = b"what do ya want for nothing?"
DIGEST = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_sign_is_the_lowercase_hex_hmac_sha256_of_the_body() -> None:
    assert sign(KEY, DATA) == DIGEST


@pytest.mark.parametrize(
    "header", [DIGEST, f"sha256={DIGEST}", DIGEST.upper(), f"SHA256={DIGEST}", f" {DIGEST} "]
)
def test_verify_accepts_the_digest_bare_or_prefixed(header: str) -> None:
    assert verify(KEY, DATA, header)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256",
        "not hex at all",
        DIGEST[:-1],
        DIGEST + "0",
        f"sha1={DIGEST}",
        "é" * 64,
        sign("another secret", DATA),
        sign(KEY, DATA + b" "),
    ],
)
def test_verify_refuses_missing_malformed_and_wrong_signatures(header: str | None) -> None:
    assert not verify(KEY, DATA, header)
