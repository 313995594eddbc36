"""The console's part of config.yml (``console:``), read and checked in one typed place.

Every word the console shows is content and lives in config.yml (Chinese, like the bot);
this module names the keys, checks that they are there, and fills in placeholders::

    config = ConsoleConfig.from_settings(settings)
    config.text("page_info", page=2, pages=7, total=321)   # "第 2 / 7 页，共 321 条"
    config.status("waiting_on_user")                        # "等待用户"
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import Settings
from bot.errors import ConfigError
from bot.store import Priority, Role, TicketStatus, TurnRole

# Every text of the templates and of the messages the router shows.
LABEL_KEYS: tuple[str, ...] = (
    "title",
    "login_title",
    "name",
    "password",
    "password_repeat",
    "login",
    "logout",
    "login_failed",
    "login_limited",
    "signed_in_as",
    "queue",
    "insights",
    "users",
    "search",
    "search_placeholder",
    "filter",
    "reset",
    "any",
    "active",
    "mine",
    "unassigned",
    "status",
    "priority",
    "category",
    "brand",
    "assignee",
    "number",
    "summary",
    "created_at",
    "updated_at",
    "other_details",
    "zone_suffix",
    "due_at",
    "overdue",
    "age",
    "time_left",
    "due_in",
    "overdue_by",
    "duration_minutes",
    "duration_hours",
    "duration_days",
    "yes",
    "no",
    "wrote_again",
    "times_in_zone",
    "live_updated",
    "sort_by",
    "bulk_select",
    "bulk_assign_me",
    "bulk_close",
    "done_bulk",
    "shortcuts",
    "shortcut_move",
    "shortcut_open",
    "shortcut_assign",
    "shortcut_reply",
    "shortcut_help",
    "shortcut_close",
    "change_priority",
    "done_priority",
    "trail_collect",
    "no_tickets",
    "page_info",
    "prev",
    "next",
    "export",
    "export_csv",
    "export_json",
    "export_reveal",
    "details",
    "no_details",
    "reveal",
    "reveal_denied",
    "masked",
    "trail",
    "trail_empty",
    "trail_action",
    "trail_skipped",
    "transcript",
    "transcript_empty",
    "pressed",
    "buttons",
    "workflow",
    "no_transitions",
    "assign",
    "take",
    "release",
    "nobody",
    "notes",
    "no_notes",
    "note_placeholder",
    "add_note",
    "reply",
    "reply_placeholder",
    "send_reply",
    "canned",
    "reply_closed",
    "human_owner",
    "bot_owner",
    "audit",
    "actor",
    "event",
    "change",
    "time",
    "back",
    "done_status",
    "done_assign",
    "done_note",
    "done_reply",
    "done_note_masked",
    "done_reply_masked",
    "done_reveal",
    "csrf_failed",
    "forbidden",
    "forbidden_reveal",
    "forbidden_assign",
    "forbidden_admin",
    "not_found",
    "bad_request",
    "refused_transition",
    "empty_text",
    "text_too_long",
    "not_ready",
    "store_unavailable",
    "server_error",
    "error_title",
    "new_user",
    "role",
    "create_user",
    "last_login",
    "never",
    "user_created",
    "user_exists",
    "passwords_differ",
    "password_too_short",
    "content",
    "content_status",
    "content_version",
    "content_loaded_at",
    "reload_now",
    "reload_hint",
    "reload_rejected",
    "reload_keeps_serving",
    "done_reloaded",
    "done_reload_failed",
    "unanswered",
    "since",
    "since_hint",
    "bad_since",
    "unanswered_total",
    "unanswered_sampled",
    "unanswered_count",
    "unanswered_examples",
    "nearest_faq",
    "nearest_score",
    "no_similar_faq",
    "no_unanswered",
    "download_stubs",
)
# Names of lifecycle values, one mapping each; every member must have a name.
_ENUM_SECTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "statuses": tuple(s.value for s in TicketStatus),
        "transitions": tuple(s.value for s in TicketStatus),
        "priorities": tuple(p.value for p in Priority),
        "roles": tuple(r.value for r in Role),
        "turn_roles": tuple(r.value for r in TurnRole),
    }
)
# Open-ended vocabularies: a key without a name is shown as it is.
_OPEN_SECTIONS = ("categories", "details", "events", "fields")

DEFAULT_SESSION_HOURS = 12.0
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_PAGE_SIZE = 50
DEFAULT_LOGIN_WINDOW_MINUTES = 15.0
DEFAULT_LOGIN_PER_NAME = 5
DEFAULT_LOGIN_PER_IP = 20
# China has had one UTC offset without daylight saving since 1991: a safe stand-in when the
# system has no time zone database.
_SHANGHAI = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class ConsoleConfig:
    """The ``console:`` section of config.yml, checked.

    Attributes:
        secret: signing key for session cookies and CSRF tokens, or None to use
            ``$WALLETBOT_CONSOLE_SECRET`` / a generated one (see ``bot.console.auth``).
    """

    labels: Mapping[str, str]
    names: Mapping[str, Mapping[str, str]]
    timezone: tzinfo
    zone_name: str
    poll_seconds: float
    session_hours: float
    page_size: int
    login_window_minutes: float
    login_per_name: int
    login_per_ip: int
    secret: str | None

    def __repr__(self) -> str:  # never show the secret
        return f"ConsoleConfig(timezone={self.timezone!r}, page_size={self.page_size!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleConfig:
        """Read ``settings.console``.

        Raises:
            ConfigError: a text or a name is missing, or a number is out of range; the
                message names the key, e.g. ``console.labels.login``.
        """
        raw = settings.console or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"Config 'console' must be a mapping of console settings (got {raw!r}).")
        labels = _texts(raw.get("labels"), "console.labels", LABEL_KEYS)
        names: dict[str, Mapping[str, str]] = {}
        for section, keys in _ENUM_SECTIONS.items():
            names[section] = MappingProxyType(_texts(raw.get(section), f"console.{section}", keys))
        for section in _OPEN_SECTIONS:
            names[section] = MappingProxyType(_texts(raw.get(section) or {}, f"console.{section}", ()))
        login = raw.get("login_limit") or {}
        if not isinstance(login, dict):
            raise ConfigError(
                "Config 'console.login_limit' must be a mapping with window_minutes, per_name "
                f"and per_ip (got {login!r})."
            )
        secret = raw.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise ConfigError(
                "Config 'console.secret' must be a text of at least 16 characters, or empty to "
                "generate one: use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return cls(
            labels=MappingProxyType(labels),
            names=MappingProxyType(names),
            timezone=_zone(raw.get("timezone", "Asia/Shanghai")),
            zone_name=str(raw.get("timezone_name") or raw.get("timezone", "Asia/Shanghai")),
            poll_seconds=_number(raw, "poll_seconds", DEFAULT_POLL_SECONDS, 1, 600),
            session_hours=_number(raw, "session_hours", DEFAULT_SESSION_HOURS, 0.1, 24 * 30),
            page_size=int(_number(raw, "page_size", DEFAULT_PAGE_SIZE, 1, 200)),
            login_window_minutes=_number(
                login, "window_minutes", DEFAULT_LOGIN_WINDOW_MINUTES, 0.1, 24 * 60, "login_limit."
            ),
            login_per_name=int(_number(login, "per_name", DEFAULT_LOGIN_PER_NAME, 1, 1000, "login_limit.")),
            login_per_ip=int(_number(login, "per_ip", DEFAULT_LOGIN_PER_IP, 1, 100000, "login_limit.")),
            secret=secret or None,
        )

    def text(self, key: str, **values: object) -> str:
        """The label ``key`` with ``{name}`` placeholders filled in."""
        label = self.labels[key]
        return label.format(**values) if values else label

    def name(self, section: str, key: object) -> str:
        """The display name of ``key`` in ``section`` (e.g. statuses), or the key itself."""
        text = str(key)
        return self.names[section].get(text, text)

    def status(self, value: object) -> str:
        return self.name("statuses", value)

    def priority(self, value: object) -> str:
        return self.name("priorities", value)

    def category(self, value: object) -> str:
        return self.name("categories", value)


def _texts(raw: Any, where: str, required: tuple[str, ...]) -> dict[str, str]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"Config '{where}' must be a mapping of texts (got {raw!r}).")
    for key in required:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"Config '{where}.{key}' is missing or not a text (got {value!r}): "
                f"add it to the {where.split('.')[-1]}: part of the console: section of config.yml."
            )
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ConfigError(f"Config '{where}.{key}' must be a text (got {value!r}).")
    return {str(k): v for k, v in raw.items()}


def _number(raw: dict[str, Any], key: str, default: float, low: float, high: float, prefix: str = "") -> float:
    value = raw.get(key, default)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ConfigError(f"Config 'console.{prefix}{key}' must be a number from {low:g} to {high:g} (got {value!r}).")
    return float(value)


def _zone(name: object) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"Config 'console.timezone' must be an IANA time zone name such as 'Asia/Shanghai' (got {name!r})."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":
            return _SHANGHAI
        raise ConfigError(
            f"Config 'console.timezone' is {name!r}, which this system does not know: use an "
            "IANA name such as 'Asia/Shanghai', or install the tzdata package."
        ) from None
