"""The words of the insights (config.yml ``insights:``), read in one place that names a missing key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError
from bot.store.insights import ESCALATION_REASONS

LABEL_KEYS = (
    "title",
    "period",
    "since",
    "until",
    "brand",
    "all_brands",
    "apply",
    "days_option",
    "period_line",
    "conversations",
    "contained",
    "containment_rate",
    "escalated",
    "escalation_rate",
    "messages",
    "fallback_rate",
    "clarify_rate",
    "out_of_scope_rate",
    "per_day",
    "per_brand",
    "day",
    "escalation_reasons",
    "reason",
    "count",
    "outcomes",
    "outcome",
    "top_intents",
    "intent",
    "faq",
    "faq_id",
    "answered",
    "helpful",
    "not_helpful",
    "tickets",
    "opened",
    "by_priority",
    "by_category",
    "priority",
    "category",
    "first_action",
    "resolution",
    "mean",
    "longest",
    "tickets_measured",
    "overdue",
    "funnels",
    "flow",
    "step",
    "reached",
    "choices",
    "left",
    "solved",
    "escalated_here",
    "went_on",
    "no_data",
    "minutes",
    "plot_title",
    "bad_period",
    "bad_brand",
    "kpis",
    "choice",
)


@dataclass(frozen=True, slots=True)
class InsightLabels:
    labels: dict[str, str]
    reasons: dict[str, str]
    outcomes: dict[str, str]
    priorities: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> InsightLabels:
        """Raises ConfigError naming the first missing key."""
        config = settings.insights
        for key in LABEL_KEYS:
            if not config.labels.get(key):
                raise ConfigError(f"Config 'insights.labels.{key}' is missing: add the text to config.yml.")
        for reason in ESCALATION_REASONS:
            if not config.reasons.get(reason):
                raise ConfigError(f"Config 'insights.reasons.{reason}' is missing: add the text to config.yml.")
        return cls(dict(config.labels), dict(config.reasons), dict(config.outcomes), dict(config.priorities))

    def text(self, key: str, **values: Any) -> str:
        return self.labels[key].format(**values) if values else self.labels[key]

    def reason(self, key: str) -> str:
        return self.reasons.get(key, key)

    def outcome(self, key: str) -> str:
        return self.outcomes.get(key, key)

    def priority(self, key: str) -> str:
        return self.priorities.get(key, key)

    def minutes(self, seconds: float | None) -> str:
        return "–" if seconds is None else self.text("minutes", value=f"{seconds / 60:.1f}")
