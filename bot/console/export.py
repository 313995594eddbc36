"""Downloads of the filtered queue as CSV or JSON, contact details masked unless an admin
asks for them in full, which is audited on every ticket that goes out.

The file streams: tickets are read in batches of short transactions, so an export of 100,000
tickets neither holds them all in memory nor holds the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi.responses import Response, StreamingResponse

from bot.console.queue import filters, query
from bot.console.session import Ctx
from bot.console.views import csv_lines, export_row, is_contact, json_lines, ticket_row
from bot.store import ConsoleUser, EventKind, Ticket, TicketQuery
from bot.store.console_queries import record_events
from bot.store.models import utcnow
from bot.store.queue import tickets_after

EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def export(ctx: Ctx, fmt_name: str, params: Mapping[str, str], *, reveal: bool) -> Response:
    media_type = EXPORT_FORMATS.get(fmt_name)
    if media_type is None:
        reason = f"Unknown export format {fmt_name!r}: use csv or json."
        raise ctx.refuse("not_found", "bad_request", reason=reason)
    if reveal and not ctx.is_admin:
        raise ctx.refuse("forbidden", "forbidden_admin")
    chosen = filters(ctx, params)
    with ctx.db.session(readonly=True) as s:
        q = query(ctx, s, chosen, per_page=1)
    me = ctx.me
    if reveal:
        _audit_export(ctx, q, fmt_name, me)
    stamp = utcnow()
    rows = _export_rows(ctx, q, reveal=reveal)
    # Read the first batch now: a database failure is then a 503, not a file cut off mid-way.
    first = next(rows, None)
    rows = itertools.chain([] if first is None else [first], rows)
    if fmt_name == "csv":
        chunks: Iterator[str] = csv_lines(rows, ctx.fmt())
    else:
        meta = {
            "exported_at": stamp.isoformat(timespec="seconds"),
            "exported_by": me.name,
            "revealed": reveal,
            "filters": chosen.params(page=1),
        }
        chunks = json_lines((export_row(row) for row in rows), meta)
    filename = f"tickets-{stamp.strftime('%Y%m%d-%H%M%S')}.{fmt_name}"
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in chunks),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _export_rows(ctx: Ctx, q: TicketQuery, *, reveal: bool) -> Iterator[dict[str, Any]]:
    # Each batch is read in its own short transaction (see tickets_after).
    after: Ticket | None = None
    fmt = ctx.fmt()
    while True:
        with ctx.db.session(readonly=True) as s:
            batch = tickets_after(s, q, after)
            rows = [ticket_row(t, fmt, revealed=reveal) for t in batch]
        yield from rows
        if not batch:
            return
        after = batch[-1]


def _audit_export(ctx: Ctx, q: TicketQuery, fmt_name: str, me: ConsoleUser) -> None:
    """One "export" event on every exported ticket whose contact details go out in full.

    Written before the file is sent: if the download breaks off, the log claims a little
    too much rather than too little. The tickets are found in read-only batches, so the
    chat's writers wait only for the bulk insert, not for the search.
    """
    ids: list[int] = []
    after: Ticket | None = None
    while True:
        with ctx.db.session(readonly=True) as s:
            batch = tickets_after(s, q, after)
        if not batch:
            break
        ids += [t.id for t in batch if any(is_contact(k) for k in (t.details or {}))]
        after = batch[-1]
    fields = {"format": fmt_name, "fields": sorted({"contact", "phone", "email"})}
    with ctx.db.session() as s:
        record_events(s, ids, actor=me.name, kind=EventKind.EXPORT, after=fields)
