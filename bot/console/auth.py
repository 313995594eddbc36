"""Console sign-in: signed session cookies, CSRF tokens, and the sign-in rate limit.

Sessions are HMAC-SHA256-signed cookies (no session table): the cookie carries the user id, a
random session id, its expiry, and a fingerprint of the user's password hash. Each request
checks the signature and the expiry, loads the user (so a changed role counts at once) and
compares the fingerprint (so changing the password ends every session of that user). Logging
out revokes the session id in the deployment's shared store and clears the cookie.

The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Lax`` (other sites' forms and
fetches do not carry it), ``Secure`` when the request came over HTTPS, and limited to
``/console``. The chat API's conversation tokens are a different credential and open nothing
here.

CSRF: every state-changing form carries ``csrf_token``, an HMAC of the session id, so a token
is useless in another session. The sign-in form, used before any session exists, is tied to a
short-lived random cookie the same way (double submit).

The signing key comes from ``console.secret`` in config.yml, else ``$WALLETBOT_CONSOLE_SECRET``,
else a random key generated once into ``models/console_secret`` (mode 0600) and shared by every
worker reading that folder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.shared_state import StateStore

SESSION_COOKIE = "walletbot_console"
LOGIN_COOKIE = "walletbot_console_login"
COOKIE_PATH = "/console"
SECRET_ENV = "WALLETBOT_CONSOLE_SECRET"
SECRET_FILE = "console_secret"
LOGIN_COOKIE_SECONDS = 3600
_VERSION = "v1"
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a valid session cookie says: who, which session, until when (Unix seconds)."""

    user_id: int
    session_id: str
    expires_at: int
    fingerprint: str


class SessionSigner:
    """Makes and checks session cookies and CSRF tokens with one key.

    Example::

        signer = SessionSigner(b"...key...", lifetime_seconds=12 * 3600)
        cookie = signer.issue(user.id, user.password_hash)
        claims = signer.read(cookie)   # None if forged, damaged or expired
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
        # Separate keys per purpose, so a value signed for one can never pass as another.
        self._session_key = hmac.new(key, b"walletbot-console-session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(key, b"walletbot-console-csrf", hashlib.sha256).digest()
        self._fingerprint_key = hmac.new(key, b"walletbot-console-password", hashlib.sha256).digest()
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def __repr__(self) -> str:  # never show key material
        return f"SessionSigner(lifetime_seconds={self.lifetime_seconds!r})"

    def fingerprint(self, password_hash: str) -> str:
        """A short keyed digest of the password hash; changes whenever the password does."""
        digest = hmac.new(self._fingerprint_key, password_hash.encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()[:32]

    def issue(self, user_id: int, password_hash: str) -> str:
        """A new session cookie value for this user."""
        claims = {
            "u": user_id,
            "s": secrets.token_urlsafe(18),
            "e": int(self._clock() + self.lifetime_seconds),
            "f": self.fingerprint(password_hash),
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{_VERSION}.{body}.{self._sign(body)}"

    def read(self, cookie: str | None) -> SessionClaims | None:
        """The claims of a genuine, unexpired cookie; None for anything else."""
        if not cookie or cookie.count(".") != 2:
            return None
        version, body, signature = cookie.split(".")
        if version != _VERSION or not _same(signature, self._sign(body)):
            return None
        try:
            data = json.loads(_unb64(body))
            claims = SessionClaims(
                user_id=int(data["u"]),
                session_id=str(data["s"]),
                expires_at=int(data["e"]),
                fingerprint=str(data["f"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if claims.expires_at <= self._clock():
            return None
        return claims

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a session: forms of that session must send it back."""
        return self._mac(self._csrf_key, "session:" + session_id)

    def login_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form, tied to the browser's login cookie ``nonce``."""
        return self._mac(self._csrf_key, "login:" + nonce)

    @staticmethod
    def token_matches(expected: str, given: str | None) -> bool:
        return bool(given) and _same(expected, given or "")

    def _sign(self, body: str) -> str:
        return self._mac(self._session_key, body)

    @staticmethod
    def _mac(key: bytes, message: str) -> str:
        return _b64(hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest())


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
        self.per_name = per_name
        self.per_ip = per_ip
        self.window = window_seconds

    @staticmethod
    def _keys(ip: str, name: str) -> tuple[str, str]:
        # casefold: "Alice" and "alice" share one budget even though only one can exist.
        return f"login-ip:{ip}", f"login-name:{name.strip().casefold()}"

    def wait_seconds(self, ip: str, name: str) -> float | None:
        """None if an attempt is allowed now, else the seconds until one is."""
        ip_key, name_key = self._keys(ip, name)
        now = time.time()
        waits = []
        for key, limit in ((ip_key, self.per_ip), (name_key, self.per_name)):
            hits = self.store.recent(key, self.window)
            if len(hits) >= limit:
                waits.append(hits[-limit] + self.window - now)
        return max(waits) if waits else None

    def failed(self, ip: str, name: str) -> None:
        for key in self._keys(ip, name):
            self.store.add(key, self.window)

    def succeeded(self, name: str) -> None:
        """Forget the name's failures (the address keeps its count)."""
        self.store.forget(self._keys("", name)[1])


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison of a MAC with what the client sent, compared as bytes:
    ``hmac.compare_digest`` raises TypeError on a str with non-ASCII characters, which a forged
    cookie or form field may carry (found by tests/test_fuzz.py: a 500)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
