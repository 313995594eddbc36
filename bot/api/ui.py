"""What the chat bubble needs to know about a brand: its name, colour and UI texts.

The texts are content, so they live in config.yml under `ui:` (Chinese, like the bot); this
module only checks that every text the bubble uses is there and fills in the brand's name.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.errors import ConfigError

# Every text widget.js shows. `{brand}` is replaced here; `{ticket}`, `{max}`, `{count}` and
# `{title}` by the bubble.
STRING_KEYS: tuple[str, ...] = (
    "title",
    "subtitle",
    "greeting",
    "open",
    "close",
    "placeholder",
    "input_label",
    "send",
    "human",
    "typing",
    "helpful",
    "not_helpful",
    "ticket",
    "ticket_banner",
    "you",
    "bot",
    "agent",
    "messages_label",
    "error_network",
    "error_too_long",
    "error_rate_limited",
    "error_expired",
    "error_server",
    "error_stale",
    "retry",
    "error_unreachable",
    "unread",
    "unread_title",
    "ticket_status_resolved",
    "ticket_status_closed",
    "ticket_status_reopened",
    "ticket_banner_done",
)
DEFAULT_POLL_SECONDS = 4.0


def check_ui(settings: Settings) -> None:
    """Raise ConfigError naming the first missing or non-text `ui.<key>`."""
    ui = settings.ui
    for key in STRING_KEYS:
        value = ui.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"Config 'ui.{key}' is missing or not a text (got {value!r}): add it to the ui: section of config.yml."
            )
    poll = ui.get("poll_seconds", DEFAULT_POLL_SECONDS)
    if not isinstance(poll, (int, float)) or isinstance(poll, bool) or not 1 <= poll <= 60:
        raise ConfigError(f"Config 'ui.poll_seconds' must be a number of seconds between 1 and 60 (got {poll!r}).")


def widget_config(settings: Settings, brand_key: str) -> dict[str, Any]:
    """The JSON the bubble fetches at start-up (GET /api/widget-config?brand=...)."""
    brand = settings.brand(brand_key)
    strings = {key: str(settings.ui[key]).replace("{brand}", brand.name) for key in STRING_KEYS}
    return {
        "brand": brand_key,
        "name": brand.name,
        "color": brand.color,
        "strings": strings,
        "max_message_chars": settings.http.max_message_chars,
        "poll_seconds": float(settings.ui.get("poll_seconds", DEFAULT_POLL_SECONDS)),
    }
