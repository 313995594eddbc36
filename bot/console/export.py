"""Downloads of the filtered queue as CSV or JSON, contact details masked unless an admin
asks for them in full, which is audited on every ticket that goes out.

The file streams: tickets are read in batches of short transactions, so an export of 100,000
tickets neither holds them all in memory nor holds the database.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi.responses import Response, StreamingResponse

from bot.console.queue import filters, query
from bot.console.session import Ctx
from bot.console.views import Formatter, is_contact, ticket_row
from bot.store import ConsoleUser, EventKind, Ticket, TicketQuery
from bot.store.console_queries import record_events
from bot.store.models import utcnow
from bot.store.queue import tickets_after

# Detail columns of the CSV export, in this order; other details go to one last column.
EXPORT_DETAIL_KEYS = ("time", "amount", "method", "order_id", "contact", "phone", "email")
# The CSV is for people (a spreadsheet): each column is a field of the queue row, shown by its
# readable value, under the console's label for it. (The JSON export keeps the stored values.)
_CSV_FIELDS = (
    ("number", "number"),
    ("status_name", "status"),
    ("priority_name", "priority"),
    ("category_name", "category"),
    ("brand_name", "brand"),
    ("summary", "summary"),
    ("assignee", "assignee"),
)
_CSV_TIMES = (("created_at", "created_at"), ("due_at", "due_at"), ("updated_at", "updated_at"))
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

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


# --------------------------------------------------------------------------- file formats


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_header(fmt: Formatter) -> list[str]:
    """The CSV's column names, in Chinese like the pages; times name their zone."""
    config = fmt.config
    zone = config.text("zone_suffix", zone=config.zone_name)
    return [
        *(config.text(label) for _, label in _CSV_FIELDS),
        *(config.text(label) + zone for _, label in _CSV_TIMES),
        config.text("overdue"),
        *(config.name("details", key) for key in EXPORT_DETAIL_KEYS),
        config.text("other_details"),
    ]


def csv_lines(rows: Iterable[dict[str, Any]], fmt: Formatter) -> Iterator[str]:
    """CSV text in chunks: a UTF-8 BOM (so spreadsheet programs read Chinese), a header, rows
    of queue rows (``ticket_row``) with names instead of ids and local times.

    Cells that a spreadsheet would run as formulas are prefixed with ``'``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(fmt))
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        details = dict(row["details"])
        other = [f"{fmt.config.name('details', k)}: {v}" for k, v in details.items() if k not in EXPORT_DETAIL_KEYS]
        values = [row[key] for key, _ in _CSV_FIELDS]
        values += [fmt.stamp(row[key]) for key, _ in _CSV_TIMES]
        values.append(fmt.yes_no(row["overdue"]))
        values += [details.get(key, "") for key in EXPORT_DETAIL_KEYS]
        values.append("; ".join(other))
        writer.writerow([_cell(v) for v in values])
        yield buffer.getvalue()


def json_lines(rows: Iterable[dict[str, Any]], meta: dict[str, Any]) -> Iterator[str]:
    """``{...meta, "tickets": [...]}`` in chunks, one ticket per chunk."""
    head = json.dumps(meta, ensure_ascii=False)[:-1]
    yield head + (', "tickets": [' if meta else '"tickets": [')
    for i, row in enumerate(rows):
        yield ("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]}\n"


EXPORT_FIELDS = tuple(
    key
    for key in (
        "number",
        "status",
        "priority",
        "category",
        "brand",
        "summary",
        "assignee",
        "created_at",
        "due_at",
        "overdue",
        "updated_at",
        "details",
    )
)


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable part of a queue row (no display names)."""
    return {key: row[key] for key in EXPORT_FIELDS}
