"""For content editors: what the bot serves now, the last rejected change of data/, what users
asked in vain (as FAQ stubs to fill in), and reloading data/ on demand (admins).

The unanswered report loads numpy and the NLU: imported on first use, so the rest of the
console starts without them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.pages import ROOT
from bot.console.session import Ctx
from bot.store.models import utcnow

if TYPE_CHECKING:
    from bot.engine import ReloadStatus
    from bot.reports import UnansweredGroup

DEFAULT_SINCE = "7d"
# Grouping compares every message with every other (a dense n×n matrix): beyond this many the
# page would cost seconds and hundreds of megabytes, so it groups this many and says so.
UNANSWERED_LIMIT = 2000


def content_page(ctx: Ctx) -> HTMLResponse:
    """What the bot serves now, the last rejected change, and what users asked in vain."""
    since_text, start = since(ctx)
    groups, sampled = unanswered(ctx, start)
    status = ctx.assistant.reload_status  # one snapshot: the reloader swaps, never mutates
    fmt = ctx.fmt()
    done = ctx.request.query_params.get("done")
    return ctx.render(
        "content.html",
        flash=ctx.config.text("done_reloaded", version=status.version) if done == "reloaded" else None,
        error=ctx.config.text("done_reload_failed") if done == "reload_failed" else None,
        reload=status,
        loaded_at=fmt.stamp(status.loaded_at),
        failed_at=fmt.stamp(status.failed_at),
        since=since_text,
        start=fmt.time(start),
        groups=groups,
        faq_questions={e.id: e.question for e in ctx.assistant.runtime.content.faq},
        total=sum(g.count for g in groups),
        sampled=sampled,
        limit=UNANSWERED_LIMIT,
    )


def unanswered_yaml(ctx: Ctx) -> Response:
    """The report as FAQ stubs to fill in, as a file to download."""
    from bot.reports import yaml_stubs

    groups, _ = unanswered(ctx, since(ctx)[1])
    filename = f"faq-stubs-{utcnow():%Y%m%d-%H%M%S}.yml"
    return Response(
        yaml_stubs(groups),
        media_type="text/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def since(ctx: Ctx) -> tuple[str, datetime]:
    """The report's period from ``?since=`` (default 7d) and its start; 400 when unreadable."""
    from bot.reports import since_datetime  # numpy and the NLU: loaded on first use only

    value = ctx.request.query_params.get("since", "").strip() or DEFAULT_SINCE
    try:
        return value, since_datetime(value)
    except (ValueError, OverflowError):  # not like 7d, or further back than dates go
        raise ctx.refuse("bad_since", "bad_since", value=value[:40]) from None


def unanswered(ctx: Ctx, start: datetime) -> tuple[list[UnansweredGroup], bool]:
    """Unanswered messages since ``start``, grouped; True when only some were grouped."""
    from bot.reports import collect_unanswered, group_unanswered

    rows = collect_unanswered(ctx.db, start, limit=UNANSWERED_LIMIT + 1)  # newest first
    runtime = ctx.assistant.runtime
    groups = group_unanswered(rows[:UNANSWERED_LIMIT], runtime.nlu.classifier.tokenizer, runtime.faq)
    return groups, len(rows) > UNANSWERED_LIMIT


def reload(ctx: Ctx) -> ReloadStatus:
    """Load data/ now (admins): swapped in only when every file is valid.

    It may retrain the classifier for seconds: call it from a worker thread, never from
    the event loop.
    """
    from bot.reloader import reload_assistant

    ctx.require_admin()
    return reload_assistant(ctx.assistant)


def after_reload(status: ReloadStatus) -> RedirectResponse:
    # Post/Redirect/Get: refreshing the page does not reload again.
    done = "reload_failed" if status.errors else "reloaded"
    return RedirectResponse(f"{ROOT}/content?done={done}", status_code=303)
