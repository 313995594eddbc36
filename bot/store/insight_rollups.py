"""Daily rollups of the insights, so that a period of a large store is summed from a few
thousand rows instead of computed again from a million turns.

Every figure computed from the turns (``insights.live_figures``) is additive over cohorts: a
conversation belongs to the UTC day it started, so the figures of a period are the sums of its
days' figures. ``refresh`` computes each day's figures per brand with the same SQL and stores
them as rows ``(day, brand, figure, key, subkey, value)`` in ``insight_rollups``;
``insight_rollup_days`` lists the days done and when. A day's rollup is final once computed
``ROLLUP_AFTER`` after the day ended (its conversations are over); the days before that
(yesterday, today) are provisional and computed again when older than ``PROVISIONAL_FOR``. A
period is answered from the rollups of the whole days it contains plus live queries over the
rest (a partial first or last day), see ``split``. Ticket figures are always computed live:
tickets keep changing (assigned, resolved) long after they opened.

Rows (figure, key, subkey):
    conv:    conversations|contained|escalated, ""        (per day and brand)
    outcome: outcome, ""          reason: reason, ""          intent: intent, ""
    faq:     entry id, answered|helpful|not_helpful
    funnel:  flow, step␟reached|left|solved|escalated, or step␟choice␟title
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Conversation, InsightRollup, InsightRollupDay, utcnow

# A day's rollup is final once computed this long after the day ended (its conversations are over).
ROLLUP_AFTER = timedelta(days=1)
# Before that (yesterday, today) it is provisional, and computed again when older than this.
PROVISIONAL_FOR = timedelta(minutes=5)
SEP = "\x1f"
log = logging.getLogger(__name__)
FUNNEL_MEASURES = ("reached", "left", "solved", "escalated")
FAQ_MEASURES = ("answered", "helpful", "not_helpful")
CONV_MEASURES = ("conversations", "contained", "escalated")

Row = tuple[str, str, str, str, str, float]  # day, brand, figure, key, subkey, value


@dataclass(slots=True)
class Split:
    """A period as the rolled-up days it contains and the windows still to compute live."""

    rolled_days: list[str] = field(default_factory=list)
    live: list[Any] = field(default_factory=list)  # InsightQuery windows


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def split(s: Session, q: Any, *, now: datetime | None = None) -> Split:
    """The whole days of ``q`` that are rolled up, and live windows covering the rest."""
    from bot.store.insights import InsightQuery

    first = (q.start + timedelta(days=1) - timedelta(microseconds=1)).date()  # first whole day
    last = q.end.date() - timedelta(days=1)  # last whole day
    done: set[str] = set()
    if first <= last:
        done = set(
            s.scalars(
                select(InsightRollupDay.day).where(InsightRollupDay.day.between(first.isoformat(), last.isoformat()))
            )
        )
    parts = Split()
    window_start = q.start
    day = first
    while day <= last:
        if day.isoformat() in done:
            if window_start < _midnight(day):
                parts.live.append(InsightQuery(window_start, _midnight(day), q.brand))
            parts.rolled_days.append(day.isoformat())
            window_start = _midnight(day + timedelta(days=1))
        day += timedelta(days=1)
    if window_start < q.end:
        parts.live.append(InsightQuery(window_start, q.end, q.brand))
    return parts


def read(s: Session, days: list[str], brand: str | None) -> list[Row]:
    """The rollup rows of these days (of one brand, or all), summed over the days for every
    figure but the conversations (kept per day and brand)."""
    r = InsightRollup
    conds = [r.day.in_(days)] + ([r.brand == brand] if brand is not None else [])
    conv = s.execute(
        select(r.day, r.brand, r.key, func.sum(r.value))
        .where(*conds, r.figure == "conv")
        .group_by(r.day, r.brand, r.key)
    )
    rows: list[Row] = [(day, b, "conv", key, "", value) for day, b, key, value in conv]
    other = s.execute(
        select(r.figure, r.key, r.subkey, func.sum(r.value))
        .where(*conds, r.figure != "conv")
        .group_by(r.figure, r.key, r.subkey)
    )
    rows += [("", "", figure, key, subkey, value) for figure, key, subkey, value in other]
    return rows


def flatten(live: dict[str, Any], day: str = "", brand: str = "") -> list[Row]:
    """``insights.live_figures`` as rollup rows (zeros left out)."""
    rows: list[Row] = []
    for r in live["conversation_rows"]:
        rows += [(r["day"], r["brand"], "conv", m, "", r[m]) for m in CONV_MEASURES if r[m]]
    rows += [(day, brand, "outcome", k, "", n) for k, n in live["messages"]["outcomes"].items()]
    rows += [(day, brand, "reason", k, "", n) for k, n in live["escalation_reasons"].items() if n]
    rows += [(day, brand, "intent", i["intent"], "", i["messages"]) for i in live["intents"]]
    rows += [(day, brand, "faq", f["faq"], m, f[m]) for f in live["faq"] for m in FAQ_MEASURES if f[m]]
    for flow, steps in live["funnels"].items():
        for step, cell in steps.items():
            rows += [(day, brand, "funnel", flow, f"{step}{SEP}{m}", cell[m]) for m in FUNNEL_MEASURES if cell[m]]
            rows += [
                (day, brand, "funnel", flow, f"{step}{SEP}choice{SEP}{title}", n)
                for title, n in cell["choices"].items()
            ]
    return rows


def assemble(rows: list[Row]) -> dict[str, Any]:
    """Sum rollup rows (and flattened live figures) back into ``live_figures``' shapes."""
    from bot.store.insights import ESCALATION_REASONS, RATE_OUTCOMES, _rate

    conv: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(CONV_MEASURES, 0))
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for day, brand, figure, key, subkey, value in rows:
        if figure == "conv":
            conv[day, brand][key] += int(value)
        else:
            sums[figure, key, subkey] += value
    outcomes: dict[str, int] = {}
    reasons = dict.fromkeys(ESCALATION_REASONS, 0)
    intents: dict[str, int] = {}
    faq: dict[str, dict[str, Any]] = {}
    funnels: dict[str, dict[str, dict[str, Any]]] = {}
    for (figure, key, subkey), value in sums.items():
        n = int(value)
        if figure == "outcome":
            outcomes[key] = n
        elif figure == "reason":
            reasons[key] = n
        elif figure == "intent":
            intents[key] = n
        elif figure == "faq":
            faq.setdefault(key, {"faq": key, **dict.fromkeys(FAQ_MEASURES, 0)})[subkey] = n
        elif figure == "funnel":
            step, measure, *title = subkey.split(SEP)
            cell = funnels.setdefault(key, {}).setdefault(
                step, {"reached": 0, "choices": {}, "left": 0, "solved": 0, "escalated": 0}
            )
            if measure == "choice":
                cell["choices"][title[0]] = n
            else:
                cell[measure] = n
    answered = sum(outcomes.values())
    return {
        "conversation_rows": [{"day": d, "brand": b, **m} for (d, b), m in sorted(conv.items())],
        "messages": {
            "messages": answered,
            "outcomes": dict(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "rates": {name: _rate(outcomes.get(name, 0), answered) for name in RATE_OUTCOMES},
        },
        "escalation_reasons": reasons,
        "intents": [{"intent": k, "messages": n} for k, n in sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))],
        "faq": sorted(faq.values(), key=lambda e: (-e["not_helpful"], -e["answered"], e["faq"])),
        "funnels": funnels,
    }


def refresh(db: Database, *, now: datetime | None = None) -> int:
    """Roll up every day not rolled up yet, and re-roll the days not settled yet (yesterday,
    today) whose rollup is older than ``PROVISIONAL_FOR``; returns how many days were written.

    A settled day is written once: its rollup is final once computed after the day ended plus
    ``ROLLUP_AFTER``. The recent days' rollups are provisional, so a report reads them too
    instead of scanning their turns, and is at most ``PROVISIONAL_FOR`` behind for them.
    Each day is computed in a read-only session, then written in one short write transaction:
    figures of every brand, then its day row. A day that another worker writes at the same time
    is written once (the day row is the primary key; the loser's transaction fails and is
    ignored). ``refresh_soon`` runs this and the ticket rollups' refresh in the background.
    """
    from bot.store.errors import StoreError
    from bot.store.insights import InsightQuery, live_figures

    now = now or utcnow()
    with db.session(readonly=True) as s:
        first_start = s.scalar(select(func.min(Conversation.created_at)))
        if first_start is None:
            return 0
        stmt = select(InsightRollupDay.day, InsightRollupDay.computed_at).where(
            InsightRollupDay.day >= first_start.date().isoformat()
        )
        done = {day: computed_at for day, computed_at in s.execute(stmt)}
    brands: list[str] | None = None  # read only when a day is to be rolled up: it reads every conversation
    rolled = 0
    day = first_start.date()
    while day <= now.date():
        computed = done.get(day.isoformat())
        final = computed is not None and computed >= _midnight(day + timedelta(days=1)) + ROLLUP_AFTER
        if not final and (computed is None or computed < now - PROVISIONAL_FOR):
            # Computed in a read-only session (on SQLite it neither waits for nor blocks the
            # chat's writes), then written in a short write transaction.
            with db.session(readonly=True) as s:
                if brands is None:
                    brands = list(s.scalars(select(Conversation.brand).distinct()))
                rows: list[Row] = []
                for brand in brands:
                    q = InsightQuery(_midnight(day), _midnight(day + timedelta(days=1)), brand)
                    rows += flatten(live_figures(s, q, now=now), day.isoformat(), brand)
            try:
                with db.session() as s:
                    s.execute(delete(InsightRollup).where(InsightRollup.day == day.isoformat()))
                    s.execute(delete(InsightRollupDay).where(InsightRollupDay.day == day.isoformat()))
                    if rows:
                        s.execute(
                            insert(InsightRollup),
                            [
                                {"day": d, "brand": b, "figure": f, "key": k, "subkey": sk, "value": v}
                                for d, b, f, k, sk, v in rows
                            ],
                        )
                    s.add(InsightRollupDay(day=day.isoformat(), computed_at=now))
                rolled += 1
            except (StoreError, IntegrityError):
                pass  # another worker rolled it up meanwhile
        day += timedelta(days=1)
    return rolled


# Background refreshes: at most one running per database, started at most every REFRESH_EVERY.
REFRESH_EVERY = timedelta(seconds=30)
_background: weakref.WeakKeyDictionary[Database, tuple[threading.Thread, float]] = weakref.WeakKeyDictionary()
_background_lock = threading.Lock()


def refresh_all(db: Database, *, now: datetime | None = None) -> None:
    """Both rollups: the turns' (``refresh``) and the tickets' (``ticket_rollups.refresh``)."""
    from bot.store import ticket_rollups

    refresh(db, now=now)
    ticket_rollups.refresh(db, now=now)


def refresh_soon(db: Database) -> bool:
    """Refresh both rollups in a background thread, so that a page never waits for a day to be
    rolled up (the provisional days take seconds on a large store every ``PROVISIONAL_FOR``).
    Until it is done a report reads what is there: rolled-up days, the rest computed live, so
    the figures are right and at most ``PROVISIONAL_FOR`` (plus the refresh's time) behind for
    yesterday and today. Returns whether a refresh started (not when one is running or
    started less than ``REFRESH_EVERY`` ago)."""
    with _background_lock:
        running = _background.get(db)
        if running is not None and (running[0].is_alive() or monotonic() - running[1] < REFRESH_EVERY.total_seconds()):
            return False
        thread = threading.Thread(target=_refresh_logged, args=(db,), name="insight-rollups", daemon=True)
        _background[db] = (thread, monotonic())
        thread.start()
        return True


def _refresh_logged(db: Database) -> None:
    try:
        refresh_all(db)
    except Exception:  # a background thread has nobody to raise to
        log.exception("refreshing the insights' rollups failed; the reports compute the missing days live")
