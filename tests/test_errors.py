"""bot.errors: one root, a code on every error, the tree its docstring draws, and statuses that
come from codes only (bot.api.errors for the API, bot.console.errors for the console)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bot
import bot.errors
from bot.api.errors import STATUS_BY_CODE as API_STATUSES
from bot.api.errors import ApiError, _walletbot_error
from bot.console.errors import STATUS_BY_CODE as CONSOLE_STATUSES
from bot.console.errors import ConsoleError, NotSignedIn
from bot.errors import ConversationError, ModelNotTrained, WalletbotError
from bot.store import InvalidTransition, StoreError


def _all_product_errors() -> set[type[BaseException]]:
    """Every exception class defined in bot/ (every module imported once)."""
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found: set[type[BaseException]] = set()
    pending: list[type[BaseException]] = [Exception]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("bot.") and not sub.__name__.startswith("_"):
                found.add(sub)
    return found


def test_every_exception_of_the_product_hangs_under_the_root_with_a_code() -> None:
    errors = _all_product_errors()
    assert {e.__name__ for e in errors} >= {
        "ApiError",
        "ConsoleError",
        "MeasureError",
        "YamlFileError",
        "FilterError",
        "ScamPatternsError",
        "StoreError",
        "ConversationError",
    }
    for error in errors:
        assert issubclass(error, WalletbotError), f"{error.__module__}.{error.__name__} is outside WalletbotError"
        assert isinstance(error.code, str) and error.code, error


def test_the_docstring_draws_the_real_tree() -> None:
    drawn = inspect.getdoc(bot.errors) or ""
    for error in _all_product_errors() - {WalletbotError}:
        assert f"── {error.__name__}" in drawn, f"{error.__name__} is missing from bot/errors.py's tree"


def test_a_code_given_at_raise_replaces_the_class_default() -> None:
    assert ConversationError("x").code == "bad_request"
    assert ConversationError("x", code="not_found").code == "not_found"
    assert ModelNotTrained("x").code == "model_not_ready"
    assert StoreError("x").code == "store_failed"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ConversationError("Conversation 'c1' does not exist.", code="not_found"), 404, "not_found"),
        (ConversationError("The conversation token is missing or wrong.", code="forbidden"), 403, "forbidden"),
        (ConversationError("Button payload 'x' is not valid.", code="unknown_payload"), 400, "unknown_payload"),
        (ConversationError("Send either 'text' or 'payload'.", code="invalid_message"), 422, "invalid_message"),
        (ApiError("rate_limited", "Too many requests."), 429, "rate_limited"),
        (ModelNotTrained("Train first."), 503, "model_not_ready"),
        (InvalidTransition("WB-000001", "closed", "resolved", ["open"]), 409, "invalid_transition"),
        (StoreError("database is locked"), 503, "database_unavailable"),
        (WalletbotError("an error nobody mapped", code="no_such_code"), 500, "internal_error"),
    ],
)
def test_the_api_maps_codes_to_statuses(error: WalletbotError, status: int, code: str) -> None:
    assert _walletbot_error(error)[:2] == (status, code)


def test_every_console_refusal_code_has_a_status() -> None:
    assert ConsoleError("csrf_failed", "页面已过期").status == 403
    assert NotSignedIn().status == 401
    assert set(CONSOLE_STATUSES.values()) <= set(range(400, 600))
    with pytest.raises(ValueError, match="Console error code 'teapot' has no status: add it to STATUS_BY_CODE."):
        ConsoleError("teapot", "我是茶壶")
    assert set(API_STATUSES.values()) <= set(range(400, 600))
