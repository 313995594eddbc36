"""`walletbot report`: `stats` and `funnel` (the insights in the terminal) and `unanswered` (what
users asked that the bot could not answer, for content editors)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli_support import fail, open_database, settings_of

if TYPE_CHECKING:
    from bot.insights.labels import InsightLabels


def _period(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """--since read as a period that ends now ('7d', '12h', '2w'); anything else is a usage error."""
    from bot.reports import parse_since  # imports numpy and the NLU: only when a report runs

    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _since_option(meaning: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The --since option of every report, handed to the command as a timedelta."""
    return click.option("--since", "period", default="7d", show_default=True, callback=_period, help=meaning)


def _report(ctx: click.Context, period: timedelta, brand: str | None) -> tuple[dict[str, Any], InsightLabels]:
    from bot.content import load_content
    from bot.insights.labels import InsightLabels
    from bot.insights.report import build_report
    from bot.store.insights import InsightQuery

    settings = settings_of(ctx)
    if brand is not None:
        settings.brand(brand)  # ConfigError names the known brands
    labels = InsightLabels.from_settings(settings)
    flows = load_content(settings, lint=False).flows
    with open_database(settings) as db:
        report = build_report(
            db, InsightQuery.last(period, brand=brand), flows, idle_minutes=settings.insights.idle_minutes
        )
    return report, labels


@click.command("stats")
@_since_option("the period that ends now: 7d, 12h, 2w")
@click.option("--brand", default=None, help="one brand (default: all)")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.pass_context
def stats_command(ctx: click.Context, period: timedelta, brand: str | None, fmt: str) -> None:
    """Containment, escalations and their reasons, rates, intents, FAQ votes, tickets, funnels."""
    report, labels = _report(ctx, period, brand)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    from bot.insights.report import report_rows

    rows = report_rows(report, labels)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "name", "value"])
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    section = None
    for name_section, name, value in rows:
        if name_section != section:
            section = name_section
            click.secho(section, bold=True)
        click.echo(f"  {name}：{value}")


@click.command("funnel")
@click.argument("flow")
@_since_option("the period that ends now: 7d, 12h, 2w")
@click.option("--brand", default=None, help="one brand (default: all)")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the funnel as a PNG picture",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def funnel_command(
    ctx: click.Context, flow: str, period: timedelta, brand: str | None, plot_path: Path | None, fmt: str
) -> None:
    """The step funnel of one flow: reached, chosen answers, left, solved, escalated per step."""
    from bot.content import load_content
    from bot.insights.funnel import ordered_funnel
    from bot.insights.report import step_line

    settings = settings_of(ctx)
    flows = load_content(settings, lint=False).flows
    if flow not in flows:
        fail(f"Unknown flow '{flow}': known flows are {', '.join(sorted(flows))}.")
    report, labels = _report(ctx, period, brand)
    funnel = next((f for f in report["funnels"] if f["flow"] == flow), None)
    if funnel is None:  # nobody entered it in the period: every step at zero
        funnel = {"flow": flow, "title": flows[flow].title, "steps": ordered_funnel(flows[flow], {})}
    if plot_path is not None:
        from bot.insights.plot import plot_funnel

        plot_funnel(funnel, labels, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
    if fmt == "json":
        click.echo(json.dumps(funnel, ensure_ascii=False, indent=2))
        return
    click.secho(f"{funnel['title']} ({flow})", bold=True)
    for step in funnel["steps"]:
        click.echo(f"  {step['step']}：{step_line(step, labels)}")


@click.group()
def report() -> None:
    """Reports for content editors and support leads."""


@report.command("unanswered")
@_since_option("how far back: 7d, 12h, 2w")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", help="yaml: FAQ stubs to fill in"
)
@click.pass_context
def report_unanswered(ctx: click.Context, period: timedelta, fmt: str) -> None:
    """What users asked that the bot could not answer, grouped, with the nearest FAQ entry."""
    from bot.faq.commands import faq_index
    from bot.reports import collect_unanswered, group_unanswered, yaml_stubs

    settings = settings_of(ctx)
    start = datetime.now(UTC) - period

    index = faq_index(settings)
    with open_database(settings) as db:
        groups = group_unanswered(collect_unanswered(db, start), index.tokenizer, index)
    if fmt == "json":
        click.echo(json.dumps([g.as_dict() for g in groups], ensure_ascii=False, indent=2))
    elif fmt == "yaml":
        click.echo(yaml_stubs(groups))
    else:
        for g in groups:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(g.reasons.items()))
            near = f"nearest FAQ: {g.nearest_faq} ({g.nearest_score:.2f})" if g.nearest_faq else "no similar FAQ entry"
            click.echo(f"{g.count:>4} × {g.examples[0]}   [{reasons}; {near}]")
            for example in g.examples[1:]:
                click.echo(f"       · {example}")
        click.echo(
            f"{sum(g.count for g in groups)} unanswered message(s) in {len(groups)} group(s) since {start:%Y-%m-%d %H:%M} UTC"
        )


report.add_command(stats_command)
report.add_command(funnel_command)
