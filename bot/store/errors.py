"""Errors of the storage layer, one branch of the product's exception tree.

WalletbotError                  (bot.errors)
 └── StoreError                 store_failed: the database is unreachable or locked, or a
      │                         repository refuses a value
      ├── InvalidTransition     invalid_transition: a status change the lifecycle does not allow
      └── UserExists            user_exists: a console user name that is already taken

The HTTP layer maps the codes to statuses (bot.api.errors); messages quote the offending value
and say what to do, so they can be shown to an operator as they are.
"""

from __future__ import annotations

from bot.errors import WalletbotError


class StoreError(WalletbotError):
    """The database could not do what was asked, or a value was refused before reaching it."""

    code = "store_failed"


class InvalidTransition(StoreError):
    """A ticket status change that the ticket lifecycle does not allow."""

    code = "invalid_transition"

    def __init__(self, number: str, current: str, requested: str, allowed: list[str]) -> None:
        self.number = number
        self.current = current
        self.requested = requested
        self.allowed = allowed
        choices = ", ".join(f"'{a}'" for a in allowed) if allowed else "none"
        super().__init__(
            f"Cannot move ticket {number} from '{current}' to '{requested}': allowed next statuses are {choices}."
        )


class UserExists(StoreError):
    """A console user with this name already exists."""

    code = "user_exists"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"A console user named '{name}' already exists: choose another name, "
            "or change the existing user's password instead."
        )
