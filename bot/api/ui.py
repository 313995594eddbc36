"""What the chat bubble needs to know about a brand: its name, colour and UI texts.

The texts are content, so they live in config.yml under `ui:` (Chinese, like the bot), checked
with the other settings at start (`bot.config_texts.UiTexts`); this module fills in the
brand's name.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings


def widget_config(settings: Settings, brand_key: str) -> dict[str, Any]:
    """The JSON the bubble fetches at start-up (GET /api/widget-config?brand=...)."""
    brand = settings.brand(brand_key)
    return {
        "brand": brand_key,
        "name": brand.name,
        "color": brand.color,
        "strings": settings.ui.strings(brand.name),
        "max_message_chars": settings.http.max_message_chars,
        "poll_seconds": settings.ui.poll_seconds,
    }
