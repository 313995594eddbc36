"""Checks editors run before publishing FAQ changes: does each wording find its own entry?"""

from __future__ import annotations

from dataclasses import dataclass

from bot.faq.index import _BLANKS, FaqIndex
from bot.faq.knowledge import FaqEntry
from bot.nlu.normalize import normalize
from bot.text import fill

THIN_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class WordingCheck:
    entry_id: str
    wording: str
    status: str  # "ok" | "thin" | "fail"
    score: float
    winner_id: str | None  # the entry that ranked first
    runner_up_id: str | None
    margin: float


def check_wordings(index: FaqIndex, *, held_out: bool = False) -> list[WordingCheck]:
    """Search every question and alternate of every entry; report who wins and by how much.

    With held_out=True each wording is removed from the index while it is searched, which
    measures how well the entry's *other* wordings cover it (a harder, more honest test).
    """
    results = []
    for entry in index.entries:
        brand = entry.brands[0] if entry.brands else None
        for wording in entry.texts():
            query = normalize(fill(wording, _BLANKS))
            hits = index.search(query, brand=brand, k=2, exclude_text=query if held_out else None)
            results.append(_judge(entry, wording, hits))
    return results


def _judge(entry: FaqEntry, wording: str, hits: list) -> WordingCheck:
    if not hits:
        return WordingCheck(entry.id, wording, "fail", 0.0, None, None, 0.0)
    top = hits[0]
    second = hits[1] if len(hits) > 1 else None
    if top.entry.id != entry.id:
        own = next((h for h in hits if h.entry.id == entry.id), None)
        margin = (own.score if own else 0.0) - top.score
        return WordingCheck(
            entry.id,
            wording,
            "fail",
            own.score if own else 0.0,
            top.entry.id,
            second.entry.id if second else None,
            margin,
        )
    margin = top.score - (second.score if second else 0.0)
    status = "thin" if margin < THIN_MARGIN else "ok"
    return WordingCheck(entry.id, wording, status, top.score, top.entry.id, second.entry.id if second else None, margin)
