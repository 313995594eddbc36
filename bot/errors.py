"""The one exception root of the product, so callers can catch everything we raise in one place.

Every error carries a ``code``: a short word a program can switch on (the CLI prints it, the
HTTP API and the console map it to a status). Only ``bot.api.errors`` and the console's error
page (``bot.console.errors``) know HTTP statuses; the engine and the dialogue say what went
wrong, never how the web answers it.

WalletbotError                          code
 ├── ConfigError                        config_invalid     config.yml or an environment override
 ├── ContentError                       content_invalid    data/ failed validation (``problems``)
 ├── YamlFileError      (bot.yamlio)    yaml_invalid       a content file is not YAML at all
 ├── ScamPatternsError  (bot.safety.scam) scam_patterns_invalid
 ├── ModelError                         model_not_ready    the trained model cannot be used
 │    └── ModelNotTrained               model_not_ready    `walletbot train` fixes it
 ├── ConversationError                  bad_request, not_found, forbidden, invalid_message,
 │                                                         unknown_payload
 ├── StoreError         (bot.store)     store_failed       the database, or a refused value
 │    ├── InvalidTransition             invalid_transition
 │    └── UserExists                    user_exists
 ├── ApiError           (bot.api.errors)  given: rate_limited, not_ready, message_too_long…
 ├── ConsoleError       (bot.console.errors)  given: csrf_failed, forbidden, not_found…
 │    └── NotSignedIn                   not_signed_in
 ├── FilterError        (bot.console.views)  bad_filter    a queue filter value
 └── MeasureError       (bot.measure)   measure_failed     an evaluation or benchmark cannot run
      └── ScenarioFileError (bot.measure.scenarios)  scenario_file_invalid
"""

from __future__ import annotations


class WalletbotError(Exception):
    """Root of every error the product raises on purpose.

    Args:
        message: for people: quote the offending value and say what to do.
        code: for programs; defaults to the class's ``code``.
    """

    code: str = "internal_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(WalletbotError):
    """A configuration key is missing or has a value we cannot use."""

    code = "config_invalid"


class ContentError(WalletbotError):
    """Content in data/ is invalid; `problems` lists each one with file and line."""

    code = "content_invalid"

    def __init__(self, problems: list) -> None:
        self.problems = problems
        errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
        first = str(errors[0]) if errors else "no details"
        super().__init__(f"{len(errors)} content error(s); first: {first}")


class ModelError(WalletbotError):
    """The trained model cannot be used."""

    code = "model_not_ready"


class ModelNotTrained(ModelError):
    """No model, or one trained on different data: `walletbot train` fixes it."""


class ConversationError(WalletbotError):
    """A conversation request that cannot be honoured; ``code`` says why: ``not_found`` (unknown
    id), ``forbidden`` (wrong token), ``invalid_message``, ``unknown_payload`` (a button that is
    not valid now), or ``bad_request``."""

    code = "bad_request"
