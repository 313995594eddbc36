"""The one exception root of the product, so callers can catch everything we raise in one place.

WalletbotError
 ├── ConfigError          config.yml or an environment override is missing or malformed
 ├── ContentError         data/ files failed validation (carries the list of problems)
 ├── ModelError           the trained model is missing, stale or unreadable
 │    └── ModelNotTrained
 ├── ConversationError    unknown conversation, wrong token, unknown button payload
 └── StoreError           database problems (defined in bot.store)
"""

from __future__ import annotations


class WalletbotError(Exception):
    """Root of every error the product raises on purpose."""


class ConfigError(WalletbotError):
    """A configuration key is missing or has a value we cannot use."""


class ContentError(WalletbotError):
    """Content in data/ is invalid; `problems` lists each one with file and line."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
        first = str(errors[0]) if errors else "no details"
        super().__init__(f"{len(errors)} content error(s); first: {first}")


class ModelError(WalletbotError):
    """The trained model cannot be used."""


class ModelNotTrained(ModelError):
    """No model, or one trained on different data: `walletbot train` fixes it."""


class ConversationError(WalletbotError):
    """A conversation request that cannot be honoured (unknown id, bad token, bad payload)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
