"""The two sections of config.yml that are words people read: ``ui:`` (the chat bubble) and
``console:`` (the support console), as typed models validated with every other section.

They are content, so they live in config.yml (Chinese, like the bot); this module names every
key once and refuses a section that lacks one, so a broken section stops `walletbot serve`
(and every other command) at start with ``Config 'console.labels.login' … is missing``
instead of failing on the first request. Kept out of ``bot/config.py`` because the key lists
are long (they are half of this module's 400 lines); imports nothing but pydantic, so reading
the settings stays cheap.

    settings.ui.strings("K豆钱包")                      # every bubble text, {brand} filled in
    settings.console.text("page_info", page=2, pages=7, total=321)   # "第 2 / 7 页，共 321 条"
    settings.console.status("waiting_on_user")          # "等待用户"
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, create_model, field_validator


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a text, not blank")
    return value


# A text shown to people: present and not blank.
Text = Annotated[str, AfterValidator(_non_blank)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- ui: (chat bubble)

# Every text widget.js shows. `{brand}` is replaced by `strings`; `{ticket}`, `{max}`, `{count}`
# and `{title}` by the bubble.
UI_KEYS: tuple[str, ...] = (
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

_UiTextFields: dict[str, Any] = {key: (Text, ...) for key in UI_KEYS}
_UiBase = create_model("_UiBase", __base__=_Section, **_UiTextFields)


class UiTexts(_UiBase):  # type: ignore[misc,valid-type,unused-ignore]
    """The ``ui:`` section: every text of the bubble, and how often it polls for agents' replies."""

    poll_seconds: float = Field(4.0, ge=1, le=60, strict=True)

    def strings(self, brand_name: str) -> dict[str, str]:
        """Every text of the bubble, ``{brand}`` replaced by the brand's name."""
        return {key: str(getattr(self, key)).replace("{brand}", brand_name) for key in UI_KEYS}


# --------------------------------------------------------------------------- console:

# Every text of the console's templates and of the messages its routes show.
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

# Lifecycle values of bot.store.models, named here (not imported: that would load SQLAlchemy
# to read a config file); tests/test_config_texts.py checks they match the enums.


class StatusNames(_Section):
    open: Text
    in_progress: Text
    waiting_on_user: Text
    resolved: Text
    closed: Text


class PriorityNames(_Section):
    urgent: Text
    high: Text
    normal: Text
    low: Text


class RoleNames(_Section):
    agent: Text
    admin: Text


class TurnRoleNames(_Section):
    user: Text
    bot: Text
    agent: Text
    system: Text


_LabelFields: dict[str, Any] = {key: (Text, ...) for key in LABEL_KEYS}
# Extra labels are allowed: a template may use a new one before this list names it.
ConsoleLabels = create_model("ConsoleLabels", __config__=ConfigDict(extra="allow", frozen=True), **_LabelFields)


class LoginLimit(_Section):
    """Failed sign-ins allowed per user name and per client address within the window."""

    window_minutes: float = Field(15.0, ge=0.1, le=24 * 60, strict=True)
    per_name: int = Field(5, ge=1, le=1000, strict=True)
    per_ip: int = Field(20, ge=1, le=100_000, strict=True)


# China has had one UTC offset without daylight saving since 1991: a safe stand-in when the
# system has no time zone database.
_SHANGHAI = timezone(timedelta(hours=8), "CST")
_MIN_SECRET_CHARS = 16


class ConsoleSettings(_Section):
    """The ``console:`` section of config.yml.

    Attributes:
        secret: signing key for session cookies and CSRF tokens, or None to use
            ``$WALLETBOT_CONSOLE_SECRET`` / a generated one (see ``bot.console.auth``).
        timezone: IANA name of the zone times are shown in; ``zone`` is the zone itself.
    """

    secret: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    timezone_name: str | None = None
    poll_seconds: float = Field(5.0, ge=1, le=600, strict=True)
    session_hours: float = Field(12.0, ge=0.1, le=24 * 30, strict=True)
    page_size: int = Field(50, ge=1, le=200, strict=True)
    login_limit: LoginLimit = Field(default_factory=LoginLimit)
    labels: ConsoleLabels  # type: ignore[valid-type,unused-ignore]
    statuses: StatusNames
    # Button texts of the status workflow, by the status they move to.
    transitions: StatusNames
    priorities: PriorityNames
    roles: RoleNames
    turn_roles: TurnRoleNames
    # Open-ended vocabularies: a key without a name is shown as it is.
    categories: dict[str, str] = Field(default_factory=dict)
    details: dict[str, str] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)

    _zone: tzinfo = PrivateAttr()
    _labels: Mapping[str, str] = PrivateAttr()
    _names: Mapping[str, Mapping[str, str]] = PrivateAttr()

    @field_validator("secret", mode="before")
    @classmethod
    def _secret_is_long_text(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(text) < _MIN_SECRET_CHARS:
            raise ValueError(
                f"must be a text of at least {_MIN_SECRET_CHARS} characters, or empty to generate one: use e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return text

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        _zone(name)
        return name

    def model_post_init(self, context: Any, /) -> None:
        self._zone = _zone(self.timezone)
        self._labels = MappingProxyType(self.labels.model_dump())
        self._names = MappingProxyType(
            {
                section: MappingProxyType(dict(value) if isinstance(value, dict) else value.model_dump())
                for section in (*_NAMED_SECTIONS, "categories", "details", "events", "fields")
                for value in [getattr(self, section)]
            }
        )

    @property
    def zone(self) -> tzinfo:
        return self._zone

    @property
    def zone_name(self) -> str:
        return self.timezone_name or self.timezone

    @property
    def secret_text(self) -> str | None:
        return self.secret.get_secret_value() if self.secret else None

    def text(self, key: str, **values: object) -> str:
        """The label ``key`` with ``{name}`` placeholders filled in."""
        label = self._labels[key]
        return label.format(**values) if values else label

    def name(self, section: str, key: object) -> str:
        """The display name of ``key`` in ``section`` (e.g. statuses), or the key itself."""
        text = str(key)
        return self._names[section].get(text, text)

    def status(self, value: object) -> str:
        return self.name("statuses", value)

    def priority(self, value: object) -> str:
        return self.name("priorities", value)

    def category(self, value: object) -> str:
        return self.name("categories", value)


_NAMED_SECTIONS = ("statuses", "transitions", "priorities", "roles", "turn_roles")


def _zone(name: str) -> tzinfo:
    if not name:
        raise ValueError("must be an IANA time zone name such as 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":
            return _SHANGHAI
        raise ValueError(
            f"{name!r} is not a time zone this system knows: use an IANA name such as 'Asia/Shanghai', "
            "or install the tzdata package"
        ) from None
