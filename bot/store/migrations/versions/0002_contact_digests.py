"""Contact details in tickets.search_text become digests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Before this revision the queue's text search held contact details (phone, email) as plain text,
so a substring search could rebuild a masked phone number digit by digit. Rows written since
the code change already hold digests; this rewrites every ticket's search_text the same way.

The rules are copied here on purpose, like the plain column types of 0001: a migration is a
frozen snapshot and must not change when bot.store.models changes later.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTACT_DETAILS = frozenset({"contact", "phone", "email"})
_CONTACT_PIECES = re.compile(r"[,，;；/、]+")
_INSIDE_NUMBER = re.compile(r"(?<=\d)[\s-]+(?=\d)")
_BATCH = 1000


def _token(value: str) -> str:
    canonical = _INSIDE_NUMBER.sub("", value.strip().lower())
    return "contact:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if value is None else [str(value)]


def _search_text(summary: str | None, details: object) -> str:
    contacts: list[str] = []
    if isinstance(details, dict):
        contacts = _leaves({k: v for k, v in details.items() if k in _CONTACT_DETAILS})
        details = {k: v for k, v in details.items() if k not in _CONTACT_DETAILS}
    pieces = {p for c in contacts for p in (c, *_CONTACT_PIECES.split(c))} - {""}
    parts = [summary or "", *_leaves(details), *(_token(p) for p in sorted(pieces))]
    return "\n".join(p for p in parts if p).lower()


def upgrade() -> None:
    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer),
        sa.column("summary", sa.Text),
        sa.column("details", sa.JSON),
        sa.column("search_text", sa.Text),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(tickets.c.id, tickets.c.summary, tickets.c.details)
            .where(tickets.c.id > last)
            .order_by(tickets.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("ticket_id")).values(search_text=sa.bindparam("text")),
            [{"ticket_id": r.id, "text": _search_text(r.summary, r.details)} for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    """Nothing to undo: the digests cannot be turned back into numbers, and need not be."""
