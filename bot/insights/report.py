"""The whole insights report of a period: the store's figures with each flow's funnel in the
flow's own order, and the same report as flat rows for CSV and the terminal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.flows.model import Flow
from bot.insights.funnel import ordered_funnel
from bot.insights.labels import InsightLabels
from bot.store import Database
from bot.store.insight_rollups import refresh_all, refresh_soon
from bot.store.insights import InsightQuery, compute_insights

SCHEMA = "walletbot.insights/1"


def build_report(
    db: Database,
    q: InsightQuery,
    flows: dict[str, Flow],
    *,
    now: datetime | None = None,
    idle_minutes: int = 30,
    background: bool = False,
) -> dict[str, Any]:
    """Every figure of the period (one read-only transaction), funnels ordered by ``flows``.

    The rollups are refreshed first (the days that ended, provisional days, days whose tickets
    changed), or with ``background`` (the console) in a background thread while this report
    reads what is there: the figures are the same, only the time to compute them differs.

    ``funnels`` becomes a list of ``{"flow", "title", "steps": [...]}`` in the order of
    ``flows``, only for flows some conversation of the period entered.
    """
    if background:
        refresh_soon(db)
    else:
        refresh_all(db, now=now)
    with db.session(readonly=True) as s:
        figures = compute_insights(s, q, now=now, idle=timedelta(minutes=idle_minutes))
    counts = figures.pop("funnels")
    funnels = []
    for name, flow in flows.items():
        if name in counts:
            funnels.append({"flow": name, "title": flow.title, "steps": ordered_funnel(flow, counts.pop(name))})
    for name in sorted(counts):  # a flow removed from data/ since: still shown, in stored order
        empty = Flow(name, name, "", {})
        funnels.append({"flow": name, "title": name, "steps": ordered_funnel(empty, counts[name])})
    return {"schema": SCHEMA, **figures, "funnels": funnels}


def report_rows(report: dict[str, Any], labels: InsightLabels) -> list[tuple[str, str, str]]:
    """(section, name, value) rows: the CSV of `walletbot report stats` and its table."""
    t = labels.text
    conv, msgs, tickets = report["conversations"], report["messages"], report["tickets"]
    rows: list[tuple[str, str, str]] = [
        (t("period"), t("since"), report["period"]["start"]),
        (t("period"), t("until"), report["period"]["end"]),
        (t("period"), t("brand"), report["period"]["brand"] or t("all_brands")),
        (t("conversations"), t("conversations"), str(conv["conversations"])),
        (t("conversations"), t("contained"), str(conv["contained"])),
        (t("conversations"), t("containment_rate"), _pct(conv["containment_rate"])),
        (t("conversations"), t("escalated"), str(conv["escalated"])),
        (t("conversations"), t("escalation_rate"), _pct(conv["escalation_rate"])),
        (t("messages"), t("messages"), str(msgs["messages"])),
        (t("messages"), t("fallback_rate"), _pct(msgs["rates"]["fallback"])),
        (t("messages"), t("clarify_rate"), _pct(msgs["rates"]["clarify"])),
        (t("messages"), t("out_of_scope_rate"), _pct(msgs["rates"]["out_of_scope"])),
    ]
    rows += [(t("outcomes"), labels.outcome(k), str(n)) for k, n in msgs["outcomes"].items()]
    rows += [
        (t("per_day"), d["day"], f"{d['conversations']} / {d['contained']} / {d['escalated']}") for d in conv["days"]
    ]
    rows += [
        (t("per_brand"), b["brand"], f"{b['conversations']} / {b['contained']} / {b['escalated']}")
        for b in conv["brands"]
    ]
    rows += [(t("escalation_reasons"), labels.reason(k), str(n)) for k, n in report["escalation_reasons"].items()]
    rows += [(t("top_intents"), i["intent"], str(i["messages"])) for i in report["top_intents"]]
    rows += [
        (
            t("faq"),
            f["faq"],
            f"{t('answered')} {f['answered']}, {t('helpful')} {f['helpful']}, {t('not_helpful')} {f['not_helpful']}",
        )
        for f in report["faq"]
    ]
    rows.append((t("tickets"), t("opened"), str(tickets["opened"])))
    for key in ("first_action", "resolution"):
        d = tickets[f"time_to_{key}"]
        rows.append(
            (
                t("tickets"),
                t(key),
                f"{t('mean')} {labels.minutes(d['mean_seconds'])}, {t('longest')} {labels.minutes(d['max_seconds'])}, {t('tickets_measured')} {d['tickets']}",
            )
        )
    rows.append((t("tickets"), t("overdue"), str(tickets["overdue"]["total"])))
    rows += [(t("by_priority"), labels.priority(k), str(n)) for k, n in tickets["by_priority"].items()]
    rows += [(t("by_category"), k, str(n)) for k, n in tickets["by_category"].items()]
    for funnel in report["funnels"]:
        for step in funnel["steps"]:
            rows.append((f"{t('funnels')}:{funnel['flow']}", step["step"], step_line(step, labels)))
    return rows


def step_line(step: dict[str, Any], labels: InsightLabels) -> str:
    t = labels.text
    choices = "，".join(f"{c['title']} {c['conversations']}" for c in step["choices"])
    line = f"{t('reached')} {step['reached']}, {t('left')} {step['left']}, {t('solved')} {step['solved']}, {t('escalated_here')} {step['escalated']}"
    return f"{line}; {t('choices')}: {choices}" if choices else line


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"
