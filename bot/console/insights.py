"""The console's insights page (agents and admins): the support leads' figures for a period and
a brand, as charts and tables.

    GET /console/insights?start=2026-11-25&end=2026-12-01&brand=kdou   the page
    GET /console/api/insights?start=…&end=…&brand=…                     the same figures as JSON

``start`` and ``end`` are UTC calendar days, both included (default: the last
``insights.default_days`` days up to today). Charts are drawn in the browser by Chart.js,
vendored in ``static/chart.umd.min.js`` (MIT, see ``static/chart.js-LICENSE.md``), from the
figures the page carries in a data attribute; every word comes from config.yml ``insights:``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.console.errors import ConsoleError
from bot.console.pages import API_ROOT, ROOT
from bot.console.session import Console, Ctx
from bot.insights.labels import InsightLabels
from bot.insights.report import build_report
from bot.store.insights import InsightQuery

# The longest period one request may ask for: the figures of a year stay one page.
MAX_DAYS = 366


def add_insights_routes(router: APIRouter, console: Console) -> None:
    """Register the page and its JSON twin on the console's router."""

    @router.get(f"{ROOT}/insights")
    def insights_page(request: Request) -> Response:
        ctx = console.signed_in(request)
        labels = InsightLabels.from_settings(ctx.settings)
        start, end, brand = _period(ctx, labels)
        report = _report(ctx, start, end, brand)
        return console.render(
            ctx,
            "insights.html",
            L=labels.text,
            labels=labels,
            report=report,
            start=start.isoformat(),
            end=end.isoformat(),
            brand=brand or "",
            brands=[(key, b.name) for key, b in ctx.settings.brands.items()],
            chart_data=json.dumps(_chart_data(report, labels), ensure_ascii=False),
        )

    @router.get(f"{API_ROOT}insights")
    def insights_api(request: Request) -> Response:
        ctx = console.signed_in(request)
        start, end, brand = _period(ctx, InsightLabels.from_settings(ctx.settings))
        return JSONResponse(_report(ctx, start, end, brand))


def _period(ctx: Ctx, labels: InsightLabels) -> tuple[date, date, str | None]:
    """The chosen days and brand; 400 for a date that is not YYYY-MM-DD, a reversed or too long
    period, or an unknown brand."""
    params = ctx.request.query_params
    today = datetime.now(UTC).date()
    try:
        end = date.fromisoformat(params["end"]) if params.get("end") else today
        start = (
            date.fromisoformat(params["start"])
            if params.get("start")
            else end - timedelta(days=ctx.settings.insights.default_days - 1)
        )
    except ValueError:
        raise ConsoleError("bad_period", labels.text("bad_period")) from None
    if start > end or (end - start).days >= MAX_DAYS:
        raise ConsoleError("bad_period", labels.text("bad_period"))
    brand = params.get("brand") or None
    if brand is not None and brand not in ctx.settings.brands:
        raise ConsoleError("bad_brand", labels.text("bad_brand", brand=brand[:40]))
    return start, end, brand


def _report(ctx: Ctx, start: date, end: date, brand: str | None) -> dict[str, Any]:
    q = InsightQuery(
        datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC), brand
    )
    flows = ctx.assistant.runtime.content.flows
    return build_report(ctx.db, q, flows, idle_minutes=ctx.settings.insights.idle_minutes, background=True)


def _chart_data(report: dict[str, Any], labels: InsightLabels) -> dict[str, Any]:
    """What insights.js draws: series with their (configured) names, nothing to translate."""
    t = labels.text
    days = report["conversations"]["days"]
    return {
        "days": {
            "labels": [d["day"] for d in days],
            "series": [
                {"name": t("conversations"), "values": [d["conversations"] for d in days]},
                {"name": t("contained"), "values": [d["contained"] for d in days]},
                {"name": t("escalated"), "values": [d["escalated"] for d in days]},
            ],
        },
        "reasons": {
            "labels": [labels.reason(k) for k in report["escalation_reasons"]],
            "values": list(report["escalation_reasons"].values()),
            "name": t("escalation_reasons"),
        },
        "outcomes": {
            "labels": [labels.outcome(k) for k in report["messages"]["outcomes"]],
            "values": list(report["messages"]["outcomes"].values()),
            "name": t("outcomes"),
        },
        "priorities": {
            "labels": [labels.priority(k) for k in report["tickets"]["by_priority"]],
            "values": list(report["tickets"]["by_priority"].values()),
            "name": t("by_priority"),
        },
        "funnels": [
            {
                "flow": f["flow"],
                "labels": [s["step"] for s in f["steps"]],
                "series": [
                    {"name": t("solved"), "values": [s["solved"] for s in f["steps"]]},
                    {"name": t("escalated_here"), "values": [s["escalated"] for s in f["steps"]]},
                    {"name": t("left"), "values": [s["left"] for s in f["steps"]]},
                    {
                        "name": t("went_on"),
                        "values": [max(s["reached"] - s["solved"] - s["escalated"] - s["left"], 0) for s in f["steps"]],
                    },
                ],
            }
            for f in report["funnels"]
        ],
    }
