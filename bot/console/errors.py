"""The console's refusals: one exception that routes turn into a page or a JSON error.

WalletbotError                  (bot.errors)
 └── ConsoleError               a request the console refuses (code, message)
      └── NotSignedIn           no valid session: pages redirect to sign-in, the API answers 401

The HTTP status of a refusal comes from its code, in one table (``STATUS_BY_CODE``) read by
the error page (``bot.console.pages``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.errors import WalletbotError

# Every code a console refusal may carry, and the status it is answered with.
STATUS_BY_CODE: Mapping[str, int] = MappingProxyType(
    {
        "bad_request": 400,
        "bad_filter": 400,
        "bad_status": 400,
        "bad_priority": 400,
        "bad_action": 400,
        "bad_selection": 400,
        "bad_field": 400,
        "bad_since": 400,
        "bad_period": 400,
        "bad_brand": 400,
        "unknown_user": 400,
        "empty_text": 400,
        "not_signed_in": 401,
        "csrf_failed": 403,
        "forbidden": 403,
        "not_found": 404,
        "post_required": 405,
        "ticket_closed": 409,
        "text_too_long": 413,
        "server_error": 500,
        "not_ready": 503,
        "store_unavailable": 503,
    }
)


class ConsoleError(WalletbotError):
    """A request the console refuses; shown as a page, or as JSON under /console/api/.

    Attributes:
        code: machine-readable reason, a key of ``STATUS_BY_CODE``. message: for people
            (Chinese). headers: extra response headers (``Allow``, ``Retry-After``).
    """

    def __init__(self, code: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"Console error code {code!r} has no status: add it to STATUS_BY_CODE.")
        super().__init__(message, code=code)
        self.message = message
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


class NotSignedIn(ConsoleError):
    """No valid session: pages redirect to the sign-in form, the API answers 401."""

    def __init__(self) -> None:
        super().__init__("not_signed_in", "Sign in to the console first: POST /console/login.")
