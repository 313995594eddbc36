"""The HTTP service: chat API, demo page and the embeddable chat bubble.

    from bot.api import create_app
    app = create_app(load_settings())

`walletbot serve` runs it on uvicorn through `bot.api.server.run_workers`.
"""

from bot.api.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
