"""bot.console.auth: session cookies and CSRF tokens signed with itsdangerous, and the edge cases
of the library itself (tampered, expired, from the future, signed for another purpose)."""

from __future__ import annotations

import base64
import json

import pytest

from bot.console.auth import SessionSigner
from bot.errors import ConfigError

KEY = b"a-console-key-of-32-characters!!"
T0 = 1_800_000_000.0


def _signer(now: list[float], lifetime: float = 3600, key: bytes = KEY) -> SessionSigner:
    return SessionSigner(key, lifetime, clock=lambda: now[0])


def test_a_cookie_reads_back_as_its_claims() -> None:
    now = [T0]
    signer = _signer(now)
    claims = signer.read(signer.issue(7, "$argon2id$hash"))
    assert claims is not None
    assert (claims.user_id, claims.expires_at) == (7, int(T0) + 3600)
    assert claims.fingerprint == signer.fingerprint("$argon2id$hash") != signer.fingerprint("$argon2id$other")
    assert len(claims.session_id) >= 24
    assert signer.read(signer.issue(7, "$argon2id$hash")).session_id != claims.session_id  # type: ignore[union-attr]


def test_a_cookie_lives_exactly_its_lifetime() -> None:
    now = [T0]
    signer = _signer(now)
    cookie = signer.issue(7, "h")
    now[0] += 3599
    assert signer.read(cookie) is not None
    now[0] += 1
    assert signer.read(cookie) is None


def test_a_cookie_signed_in_the_future_is_refused() -> None:
    now = [T0 + 600]
    cookie = _signer(now).issue(7, "h")
    now[0] = T0  # the clock of the checking worker is behind, or the cookie was made up
    assert _signer(now).read(cookie) is None


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_cookies_are_refused() -> None:
    now = [T0]
    signer = _signer(now)
    cookie = signer.issue(7, "h")
    body, stamp, signature = cookie.split(".")
    claims = json.loads(_b64decode(body))
    admin = f"{_b64encode(json.dumps({**claims, 'u': 1}).encode())}.{stamp}.{signature}"
    older = f"{body}.{_b64encode((int(T0) + 3600).to_bytes(4, 'big'))}.{signature}"  # a later signing time
    # Flip the signature's first character: in its last one only some bits count (base64 of 32
    # bytes), so B -> A there can decode to the same signature and the cookie rightly stays valid.
    flipped = f"{body}.{stamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    for value in (admin, older, flipped, cookie[:-2], body, f"{body}.{stamp}", "", None, "...", "x" * 4000):
        assert signer.read(value) is None, value


def test_a_cookie_of_another_key_or_purpose_is_refused() -> None:
    now = [T0]
    signer = _signer(now)
    cookie = signer.issue(7, "h")
    assert _signer(now, key=b"another-key-of-32-characters!!!!").read(cookie) is None
    # A CSRF token is signed by the same key, for another purpose: it never opens a session.
    token = signer.csrf_token("s1")
    assert signer.read(token) is None
    assert signer.read(f"{cookie.split('.')[0]}.{cookie.split('.')[1]}.{token}") is None


def test_csrf_tokens_belong_to_one_session_and_one_form() -> None:
    signer = _signer([T0])
    assert signer.csrf_token("s1") == signer.csrf_token("s1") != signer.csrf_token("s2")
    assert signer.login_token("s1") != signer.csrf_token("s1")
    assert signer.token_matches(signer.csrf_token("s1"), signer.csrf_token("s1"))
    assert not signer.token_matches(signer.csrf_token("s1"), signer.csrf_token("s2"))
    assert not signer.token_matches(signer.csrf_token("s1"), None)
    assert not signer.token_matches(signer.csrf_token("s1"), "")


def test_a_short_key_is_refused_and_the_key_never_shows() -> None:
    with pytest.raises(ConfigError, match="The console's signing key has 5 bytes: use at least 16."):
        SessionSigner(b"short", 3600)
    assert repr(_signer([T0])) == "SessionSigner(lifetime_seconds=3600)"
