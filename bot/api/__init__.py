"""The HTTP service: chat API, demo page and the embeddable chat bubble.

from bot.api import create_app, serve
"""

from bot.api.app import app_from_env, create_app
from bot.api.server import serve

__all__ = ["app_from_env", "create_app", "serve"]
