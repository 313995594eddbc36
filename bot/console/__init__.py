"""The support agents' web console: queue, tickets, replies to users, exports.

    from bot.console import build_console_router
    app.include_router(build_console_router())

`bot.console.commands` holds the `walletbot users` command group (console accounts).
"""

from typing import Any

__all__ = ["build_console_router"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `walletbot users` and the other commands start fast.
    if name == "build_console_router":
        from bot.console.router import build_console_router

        return build_console_router
    raise AttributeError(f"module 'bot.console' has no attribute {name!r}")
