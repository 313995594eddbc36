"""Texts shown to users: a plain string or a per-brand mapping, with `{placeholder}`s from the brand."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_KEY = "default"
PLACEHOLDERS = frozenset({"brand", "website", "phone", "email", "service_hours", "in_app_support", "social"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Marks a text an editor still has to write (the FAQ stubs of `walletbot report unanswered`):
# such a text never goes live, `walletbot validate` rejects it wherever it appears.
STUB_MARKER = "（待填写"

Text = str | Mapping[str, str]


def pick(text: Text, brand_key: str) -> str:
    """The variant of `text` for one brand (its own, else `default`)."""
    if isinstance(text, str):
        return text
    return str(text.get(brand_key, text.get(DEFAULT_KEY, "")))


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace known `{name}` placeholders; anything else is left exactly as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def render(text: Text, brand_key: str, values: Mapping[str, str]) -> str:
    return fill(pick(text, brand_key), values).strip()


def placeholders_in(text: Any) -> set[str]:
    """Every `{name}` used in a text or a per-brand mapping."""
    variants = text.values() if isinstance(text, Mapping) else [text]
    return {m.group(1) for v in variants if isinstance(v, str) for m in _PLACEHOLDER.finditer(v)}


def variants(text: Any) -> list[str]:
    return [str(v) for v in text.values()] if isinstance(text, Mapping) else [str(text)]
