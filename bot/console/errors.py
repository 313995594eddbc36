"""The console's refusals: one exception that routes turn into a page or a JSON error.

WalletbotError                  (bot.errors)
 └── ConsoleError               a request the console refuses (status, code, message)
      └── NotSignedIn           no valid session: pages redirect to sign-in, the API answers 401
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import WalletbotError


class ConsoleError(WalletbotError):
    """A request the console refuses; shown as a page, or as JSON under /console/api/.

    Attributes:
        status: HTTP status. code: machine-readable reason. message: for people (Chinese).
    """

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class NotSignedIn(ConsoleError):
    """No valid session: pages redirect to the sign-in form, the API answers 401."""

    def __init__(self) -> None:
        super().__init__(401, "not_signed_in", "Sign in to the console first: POST /console/login.")
