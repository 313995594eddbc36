"""The support agents' web console: queue, tickets, replies to users, exports.

    from bot.console import build_console_router
    app.include_router(build_console_router())

`bot.console.commands` holds the `walletbot users` command group (console accounts).
"""

from bot.console.router import build_console_router

__all__ = ["build_console_router"]
