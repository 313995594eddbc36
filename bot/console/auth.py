"""Console sign-in: signed session cookies, CSRF tokens, and the sign-in rate limit.

Sessions are HMAC-SHA256-signed cookies made by itsdangerous (no session table): the cookie
carries the user id, a random session id, the time it was signed, and a fingerprint of the
user's password hash. Each request checks the signature and the age, loads the user (so a
changed role counts at once) and compares the fingerprint (so changing the password ends every session of that user). Logging
out revokes the session id in the deployment's shared store and clears the cookie.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (other sites' forms and
fetches do not carry it), ``Secure`` when the request came over HTTPS, and limited to
``/console``. The chat API's conversation tokens are a different credential and open nothing
here.

CSRF: every state-changing form carries ``csrf_token``, a keyed signature of the session id,
so a token is useless in another session. The sign-in form, used before any session exists, is tied to a
short-lived random cookie the same way (double submit).

The signing key comes from ``console.secret`` in config.yml, else ``$WALLETBOT_CONSOLE_SECRET``,
else a random key generated once into ``models/console_secret`` (mode 0600) and shared by every
worker reading that folder.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer

from bot.errors import ConfigError
from bot.ratelimit import SlidingWindowLimiter
from bot.shared_state import StateStore

SESSION_COOKIE = "walletbot_console"
LOGIN_COOKIE = "walletbot_console_login"
COOKIE_PATH = "/console"
SECRET_ENV = "WALLETBOT_CONSOLE_SECRET"
SECRET_FILE = "console_secret"
LOGIN_COOKIE_SECONDS = 3600
_MIN_SECRET_CHARS = 16


def resolve_secret(configured: str | None, models_dir: Path, environ: Mapping[str, str]) -> bytes:
    """The signing key: the configured one, else $WALLETBOT_CONSOLE_SECRET, else the key file.

    The file is created atomically (O_EXCL), so workers starting together agree on one key.

    Raises:
        ConfigError: the environment's key is too short, or the key file cannot be written.
    """
    if configured:
        return configured.encode("utf-8")
    from_env = environ.get(SECRET_ENV, "")
    if from_env:
        if len(from_env) < _MIN_SECRET_CHARS:
            raise ConfigError(
                f"{SECRET_ENV} has {len(from_env)} characters: use at least "
                f"{_MIN_SECRET_CHARS}, e.g. the output of `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`."
            )
        return from_env.encode("utf-8")
    path = models_dir / SECRET_FILE
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_secret_file(path)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
        return _read_secret_file(path)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the console's signing key in '{path}' ({exc.strerror}): make the "
            f"models folder writable, or set {SECRET_ENV}."
        ) from exc


def _read_secret_file(path: Path) -> bytes:
    # Another worker may have created the file a moment ago and still be writing it.
    for _ in range(50):
        value = path.read_text(encoding="ascii").strip()
        if len(value) >= _MIN_SECRET_CHARS:
            return value.encode("ascii")
        time.sleep(0.02)
    raise ConfigError(
        f"The console's key file '{path}' is empty or too short: delete it to have a new one "
        f"generated (this signs everyone out), or set {SECRET_ENV}."
    )


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a valid session cookie says: who, which session, until when (Unix seconds)."""

    user_id: int
    session_id: str
    expires_at: int
    fingerprint: str


class SessionSigner:
    """Makes and checks session cookies and CSRF tokens with one key (itsdangerous).

    Example::

        signer = SessionSigner(b"...key...", lifetime_seconds=12 * 3600)
        cookie = signer.issue(user.id, user.password_hash)
        claims = signer.read(cookie)   # None if forged, damaged, expired or from the future
    """

    def __init__(
        self,
        key: bytes,
        lifetime_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(key) < _MIN_SECRET_CHARS:
            raise ConfigError(f"The console's signing key has {len(key)} bytes: use at least {_MIN_SECRET_CHARS}.")

        class _Clocked(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        # A salt per purpose, so a value signed for one can never pass as another.
        sha256: dict[str, Any] = {"digest_method": hashlib.sha256}
        self._sessions = URLSafeTimedSerializer(
            key, salt="walletbot-console-session", signer=_Clocked, signer_kwargs=sha256
        )
        self._csrf = Signer(key, salt="walletbot-console-csrf", digest_method=hashlib.sha256)
        self._fingerprints = Signer(key, salt="walletbot-console-password", digest_method=hashlib.sha256)
        self.lifetime_seconds = lifetime_seconds
        # itsdangerous still accepts a signature exactly max_age seconds old: one second less
        # makes the session end at issue time + lifetime, not a second later.
        self._max_age = max(1, math.ceil(lifetime_seconds) - 1)

    def __repr__(self) -> str:  # never show key material
        return f"SessionSigner(lifetime_seconds={self.lifetime_seconds!r})"

    def fingerprint(self, password_hash: str) -> str:
        """A short keyed digest of the password hash; changes whenever the password does."""
        return self._fingerprints.get_signature(password_hash).decode("ascii")[:32]

    def issue(self, user_id: int, password_hash: str) -> str:
        """A new session cookie value for this user (it carries its own signing time)."""
        claims = {"u": user_id, "s": secrets.token_urlsafe(18), "f": self.fingerprint(password_hash)}
        return self._sessions.dumps(claims)

    def read(self, cookie: str | None) -> SessionClaims | None:
        """The claims of a genuine, unexpired cookie; None for anything else."""
        if not cookie:
            return None
        try:
            data, signed_at = self._sessions.loads(cookie, max_age=self._max_age, return_timestamp=True)
            return SessionClaims(
                user_id=int(data["u"]),
                session_id=str(data["s"]),
                expires_at=int(signed_at.timestamp() + self.lifetime_seconds),
                fingerprint=str(data["f"]),
            )
        except (BadSignature, ValueError, KeyError, TypeError):  # forged, expired, damaged
            return None

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session: forms of that session must send it back."""
        return self._csrf.get_signature("session:" + session_id).decode("ascii")

    def login_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form, tied to the browser's login cookie ``nonce``."""
        return self._csrf.get_signature("login:" + nonce).decode("ascii")

    @staticmethod
    def token_matches(expected: str, given: str | None) -> bool:
        """Constant-time, compared as bytes: ``hmac.compare_digest`` raises TypeError on a str
        with non-ASCII characters, which a forged form field may carry (a 500 found by
        tests/test_fuzz.py)."""
        return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode("utf-8", "replace"))


class RevokedSessions:
    """Session ids ended by logging out, remembered until their cookie would expire anyway.

    Kept in the deployment's shared store (`bot.shared_state`): a copied cookie stops working
    on every worker and host at once.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def revoke(self, claims: SessionClaims) -> None:
        self.store.revoke(claims.session_id, claims.expires_at)

    def __contains__(self, session_id: object) -> bool:
        return self.store.is_revoked(str(session_id))


class LoginLimiter:
    """Failed sign-ins per client address and per user name over a sliding window.

    Only failures count, and a refused attempt is not checked against the password at all, so
    guessing stops at the limit while a user who types the password right gets in at once
    (unless their name or address is being attacked: then they wait like the attacker). The
    failures live in the deployment's shared store, so the limit holds across workers and hosts.
    """

    def __init__(self, store: StateStore, *, per_name: int, per_ip: int, window_seconds: float) -> None:
        self.store = store
        self.by_ip = SlidingWindowLimiter(per_ip, window_seconds, name="login-ip")
        self.by_name = SlidingWindowLimiter(per_name, window_seconds, name="login-name")

    @staticmethod
    def _name(name: str) -> str:
        # casefold: "Alice" and "alice" share one budget even though only one can exist.
        return name.strip().casefold()

    def wait_seconds(self, ip: str, name: str) -> float | None:
        """None if an attempt is allowed now, else the seconds until one is."""
        waits = [self.by_ip.wait(ip, self.store), self.by_name.wait(self._name(name), self.store)]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, ip: str, name: str) -> None:
        self.by_ip.record(ip, self.store)
        self.by_name.record(self._name(name), self.store)

    def succeeded(self, name: str) -> None:
        """Forget the name's failures (the address keeps its count)."""
        self.by_name.forget(self._name(name), self.store)
