"""Settings: config.yml plus environment overrides, read in one typed place.

Every key can be overridden by `WALLETBOT_<SECTION>_<KEY>` (upper case), for example
`WALLETBOT_STORAGE_DATABASE_URL` or `WALLETBOT_HTTP_PORT`; `WALLETBOT_DATABASE_URL` is a short
alias for the database. A text key takes the value as written, any other is read as YAML. `WALLETBOT_CONFIG` points at another config file. Relative paths
(data, models, a SQLite file) are resolved against the folder that holds the config file, so the
bot behaves the same whatever the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo

from bot.config_texts import ConsoleSettings, UiTexts
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.faq.index import FaqHit

ENV_PREFIX = "WALLETBOT_"
DEFAULT_CONFIG = "config.yml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paths(_Section):
    data: Path = Path("data")
    models: Path = Path("models")


class Storage(_Section):
    database_url: str = "sqlite:///walletbot.db"
    # Where several processes or hosts share rate limits, failed sign-ins and revoked console
    # sessions; empty: in the database (in memory for a single process on SQLite).
    redis_url: str | None = None

    def __repr__(self) -> str:  # a production URL may carry a password
        return "Storage(database_url='***', redis_url='***')"


class NluSettings(_Section):
    intent_threshold: float = Field(0.45, ge=0, le=1)
    reject_threshold: float = Field(0.70, ge=0, le=1)


class FaqSettings(_Section):
    answer_threshold: float = Field(0.50, ge=0, le=1)
    answer_margin: float = Field(0.25, ge=0, le=1)
    answer_intent_agreement: float = Field(0.10, ge=0, le=1)
    suggest_threshold: float = Field(0.35, ge=0, le=1)
    embeddings_model: str | None = None
    embeddings_weight: float = Field(0.35, ge=0, le=1)

    def answers(self, hit: FaqHit) -> bool:
        """Whether the bot answers with this hit directly: a high score, a clear lead, and an
        intent reading that does not contradict the entry's (余额是够的 shares characters with
        额度够吗 but reads as a balance statement)."""
        agrees = hit.intent_agreement is None or hit.intent_agreement >= self.answer_intent_agreement
        return hit.score >= self.answer_threshold and hit.margin >= self.answer_margin and agrees


def _share(default: float, description: str) -> Any:
    """A probability or a calibrated score (0..1) with the one line that says what it decides."""
    return Field(default, ge=0, le=1, description=description)


class DialogueSettings(_Section):
    misses_before_human: int = Field(2, ge=1)
    max_clarify_options: int = Field(3, ge=1, le=6)
    # How surely the policy must read a part of a message before acting on it (why each value:
    # config.yml and docs/accuracy.md, "Dialogue thresholds").
    person_hint_share: float = _share(0.002, "handoff share below which no clause of a message is read for 转人工")
    sure_clause: float = _share(0.9, "intent probability at which a clause names the problem of an unsure message")
    asked_faq_lead: float = _share(0.15, "FAQ lead over the next entry to answer a question asked in a checklist")
    situation_faq_floor: float = _share(
        0.2, "FAQ score from which one of a checklist's own entries answers a question asked in it"
    )
    sure_outcome: float = _share(0.9, "'solved' probability at which a last clause ends the checklist as solved")


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_message_chars: int = Field(1000, ge=1)
    rate_limit_per_minute_ip: int = Field(120, ge=1)
    rate_limit_per_minute_conversation: int = Field(30, ge=1)
    # Worker processes of `walletbot serve` (its --workers overrides it).
    workers: int = Field(1, ge=1)
    # Addresses or networks (10.0.0.0/8) of reverse proxies whose X-Forwarded-For is believed;
    # empty: the client's address is the connection's, whatever headers it sends.
    trusted_proxies: list[str] = Field(default_factory=list)


class MetricsSettings(_Section):
    """GET /metrics: off, open, or behind a bearer token."""

    enabled: bool = True
    # SecretStr: hidden in repr and logs. A digits-only token read from YAML is still text.
    token: SecretStr | None = None

    @field_validator("token", mode="before")
    @classmethod
    def _token_is_text(cls, value: Any) -> Any:
        return None if value in (None, "") else str(value)


class ContentSettings(_Section):
    """What start-up does when data/ is broken (bot/content_snapshot.py)."""

    # False: serve the last content that loaded (models/content-snapshot.json) with a loud
    # warning; True (`walletbot serve --strict-content`, for CI): refuse to start.
    strict: bool = False


class InsightsSettings(_Section):
    """The support leads' figures (console page and `walletbot report stats|funnel`)."""

    default_days: int = Field(7, ge=1, le=366)
    idle_minutes: int = Field(30, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    reasons: dict[str, str] = Field(default_factory=dict)
    outcomes: dict[str, str] = Field(default_factory=dict)
    priorities: dict[str, str] = Field(default_factory=dict)


class MaintenanceWindow(_Section):
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    start: str
    end: str
    channel: str = ""


class Brand(_Section):
    name: str
    # Shorter names users type for this wallet (Upay for Upay钱包): a question naming it is about
    # this wallet, never off-topic.
    aliases: list[str] = Field(default_factory=list)
    color: str = "#2563eb"
    website: str = ""
    phone: str = ""
    email: str | None = None
    service_hours: str = ""
    in_app_support: str = ""
    social: str = ""
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"urgent": 1.0, "high": 4.0, "normal": 24.0, "low": 72.0}
    )

    def named_in(self, norm: str) -> bool:
        """The normalised message names this wallet (its name or an alias)."""
        return any(n.lower() in norm for n in (self.name, *self.aliases) if n)

    def unset_facts(self) -> list[str]:
        """Facts of this brand a deployment has not supplied: empty, or still a `<…>` placeholder."""
        values = {
            "website": self.website,
            "phone": self.phone,
            "email": self.email,
            "service_hours": self.service_hours,
        }
        return [
            key
            for key, value in values.items()
            if not value or not value.strip() or (value.startswith("<") and value.endswith(">"))
        ]

    def placeholders(self) -> dict[str, str]:
        """Values for `{brand}`, `{website}`… in content texts (unset facts as configured)."""
        return {
            "brand": self.name,
            "website": self.website,
            "phone": self.phone,
            "email": self.email or "",
            "service_hours": self.service_hours,
            "in_app_support": self.in_app_support,
            "social": self.social,
        }


class Settings(_Section):
    language: str = "zh-Hans"
    default_brand: str = "generic"
    paths: Paths = Field(default_factory=Paths)
    content: ContentSettings = Field(default_factory=ContentSettings)
    storage: Storage = Field(default_factory=Storage)
    nlu: NluSettings = Field(default_factory=NluSettings)
    faq: FaqSettings = Field(default_factory=FaqSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    # Words people read (bot/config_texts.py): required, so that a missing text stops the start.
    ui: UiTexts
    console: ConsoleSettings
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    insights: InsightsSettings = Field(default_factory=InsightsSettings)
    brands: dict[str, Brand]
    # Folder of the config file: relative paths are resolved against it.
    root: Path = Path(".")

    @property
    def data_dir(self) -> Path:
        return _absolute(self.root, self.paths.data)

    @property
    def models_dir(self) -> Path:
        return _absolute(self.root, self.paths.models)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.storage.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(_absolute(self.root, Path(url[len(prefix) :])))
        return url

    def brand(self, key: str | None) -> Brand:
        """The brand for `key`, or the default brand when key is None."""
        name = key or self.default_brand
        try:
            return self.brands[name]
        except KeyError:
            known = ", ".join(sorted(self.brands))
            raise ConfigError(f"Unknown brand '{name}': known brands are {known}.") from None


def _absolute(root: Path, path: Path) -> Path:
    return path if path.is_absolute() else (root / path).resolve()


def _apply_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    """Override `section.key` from WALLETBOT_SECTION_KEY.

    A key that holds text (a URL, a token, a host) takes the value as written; any other is parsed
    as YAML (`0.6`, `false`, `[10.0.0.0/8]`). An empty value means none.
    """
    alias = environ.get(ENV_PREFIX + "DATABASE_URL")
    if alias:
        raw.setdefault("storage", {})["database_url"] = alias
    for section, value in list(raw.items()):
        if not isinstance(value, dict) or section == "brands":
            continue
        for key in list(value) + _known_keys(section):
            env_name = f"{ENV_PREFIX}{section}_{key}".upper()
            if env_name in environ:
                value[key] = _env_value(section, key, environ[env_name])
    if ENV_PREFIX + "DEFAULT_BRAND" in environ:
        raw["default_brand"] = environ[ENV_PREFIX + "DEFAULT_BRAND"]


def _section_fields(section: str) -> dict[str, FieldInfo]:
    field = Settings.model_fields.get(section)
    model = field.annotation if field else None
    fields: dict[str, FieldInfo] = getattr(model, "model_fields", {})
    return fields


def _known_keys(section: str) -> list[str]:
    return list(_section_fields(section))


def _env_value(section: str, key: str, text: str) -> Any:
    """An environment value for `section.key`. Text is kept as written: parsed as YAML,
    `sqlite:///:memory:` would become a mapping, a token `0123` the number 83, and ` #…` a comment."""
    if not text:
        return None
    field = _section_fields(section).get(key)
    if field is not None and _is_text(field.annotation):
        return text
    return yaml.safe_load(text)


def _is_text(annotation: Any) -> bool:
    """str, SecretStr, or a union of them with None (`str | None`); not `list[str]`."""
    kinds = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return all(kind in (str, SecretStr, type(None)) for kind in kinds)


# Values never quoted back in an error message.
_SECRET_KEYS = frozenset({"secret", "token", "database_url", "redis_url"})


def _first_problem(exc: ValidationError, config_path: Path) -> str:
    """The first invalid key of the config file, named in full, with what to do about it."""
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        where = f"the {first['loc'][0]}: section" if len(first["loc"]) > 1 else "the file (see config.yml)"
        return f"Config '{key}' in '{config_path}' is missing: add it to {where}."
    message = first["msg"].removeprefix("Value error, ")
    got = repr(first.get("input"))
    if _SECRET_KEYS & {str(p) for p in first["loc"]}:
        got = "***"
    elif len(got) > 80:
        got = got[:77] + "..."
    return f"Config '{key}' in '{config_path}' is invalid: {message} (got {got})."


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the config file (default: $WALLETBOT_CONFIG or ./config.yml) and the environment.

    Raises:
        ConfigError: the file is missing, is not YAML, or a key has an unusable value.
    """
    environ = dict(os.environ) if environ is None else environ
    config_path = Path(path or environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG)
    if not config_path.is_file():
        raise ConfigError(
            f"Config file '{config_path}' not found: run from the project folder or set WALLETBOT_CONFIG."
        )
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file '{config_path}' is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Config file '{config_path}' must hold a mapping at the top level.")
    for section in ("paths", "storage", "nlu", "faq", "dialogue", "http", "metrics", "insights"):
        raw.setdefault(section, {})
    _apply_env(raw, environ)
    raw["root"] = config_path.resolve().parent
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc, config_path)) from exc
    if settings.default_brand not in settings.brands:
        raise ConfigError(
            f"Config 'default_brand' is '{settings.default_brand}', which is not one of brands: "
            f"{', '.join(sorted(settings.brands))}."
        )
    return settings
