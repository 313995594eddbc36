"""What users asked that the bot could not answer, grouped so editors know what to write next.

A message counts as unanswered when its turn ended in clarification, fallback or out_of_scope,
or when the answer it got was voted "not helpful". Texts are stored redacted, so the report never
shows personal data. Grouping is greedy by TF-IDF cosine: cheap, deterministic, and good enough
to fold the obvious repeats ("怎么开发票" / "开发票怎么弄") into one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from bot.faq.index import FaqIndex
from bot.nlu.features import TfidfVectorizer, Tokenizer
from bot.nlu.normalize import normalize
from bot.store import Database, Feedback, Turn
from bot.text import STUB_MARKER

UNANSWERED_OUTCOMES = ("clarify", "fallback", "out_of_scope")
GROUP_SIMILARITY = 0.4
_SINCE = re.compile(r"^(\d+)\s*([dhw])$")


def parse_since(value: str) -> timedelta:
    """'7d', '12h', '2w' -> a timedelta. Raises ValueError with the accepted forms."""
    match = _SINCE.match(value.strip().lower())
    if not match:
        raise ValueError(f"Cannot read --since {value!r}: use a number and d, h or w, e.g. 7d, 12h, 2w.")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount), "w": timedelta(weeks=amount)}[unit]


@dataclass(slots=True)
class UnansweredGroup:
    count: int
    examples: list[str]
    reasons: dict[str, int]
    nearest_faq: str | None
    nearest_score: float
    texts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "examples": self.examples,
            "reasons": self.reasons,
            "nearest_faq": self.nearest_faq,
            "nearest_score": round(self.nearest_score, 3),
        }


def collect_unanswered(db: Database, since: datetime, limit: int | None = None) -> list[tuple[str, str]]:
    """(redacted text, reason) for unanswered user messages since `since`, newest first.

    `limit` bounds what is kept (the console asks for a bounded page); rows are streamed, so a
    long period costs time, not memory.
    """
    rows: list[tuple[str, str]] = []
    with db.session(readonly=True) as s:
        turns = s.execute(
            select(Turn.text, Turn.meta)
            .where(Turn.role == "user", Turn.created_at >= since)
            .order_by(Turn.id.desc())
            .execution_options(yield_per=1000)
        )
        for text, meta in turns:
            if (meta or {}).get("outcome") in UNANSWERED_OUTCOMES and text:
                rows.append((text, meta["outcome"]))
                if limit is not None and len(rows) >= limit:
                    return rows
        votes = (
            select(Feedback)
            .where(Feedback.helpful.is_(False), Feedback.created_at >= since)
            .order_by(Feedback.id.desc())
        )
        for vote in s.scalars(votes.limit(None if limit is None else limit - len(rows))):
            question = s.scalars(
                select(Turn)
                .where(
                    Turn.conversation_id == vote.conversation_id,
                    Turn.role == "user",
                    Turn.seq < vote.turn_seq,
                    Turn.text != "",
                )
                .order_by(Turn.seq.desc())
                .limit(1)
            ).first()
            if question is not None:
                rows.append((question.text, "not_helpful"))
    return rows


def group_unanswered(
    rows: list[tuple[str, str]], tokenizer: Tokenizer, faq: FaqIndex | None = None
) -> list[UnansweredGroup]:
    """Greedy grouping by cosine similarity, biggest groups first."""
    if not rows:
        return []
    texts = [normalize(text) for text, _ in rows]
    tokens = [tokenizer.tokens(t) for t in texts]
    matrix = TfidfVectorizer.fit(tokens).transform(tokens)
    similarity = (matrix @ matrix.T).toarray()
    assigned = np.full(len(rows), -1)
    groups: list[list[int]] = []
    for i in range(len(rows)):
        if assigned[i] >= 0:
            continue
        members = [j for j in range(len(rows)) if assigned[j] < 0 and (j == i or similarity[i, j] >= GROUP_SIMILARITY)]
        for j in members:
            assigned[j] = len(groups)
        groups.append(members)
    result = []
    for members in groups:
        reasons: dict[str, int] = {}
        for j in members:
            reasons[rows[j][1]] = reasons.get(rows[j][1], 0) + 1
        examples = list(dict.fromkeys(rows[j][0] for j in members))
        nearest, score = None, 0.0
        if faq is not None:
            hits = faq.search(texts[members[0]], k=1)
            if hits:
                nearest, score = hits[0].entry.id, hits[0].score
        result.append(UnansweredGroup(len(members), examples[:3], reasons, nearest, score, examples))
    result.sort(key=lambda g: (-g.count, g.examples[0]))
    return result


def yaml_stubs(groups: list[UnansweredGroup]) -> str:
    """FAQ entries ready to fill in, one per group, in the data/faq format."""
    import yaml

    entries = []
    for n, group in enumerate(groups, start=1):
        entries.append(
            {
                "id": f"todo_{n}",
                "question": group.examples[0],
                "alternates": group.texts[1:6] or [f"{STUB_MARKER}：再写五种用户的问法）"],
                "answer": f"{STUB_MARKER}：答案必须来自资料）",
                "tags": ["todo"],
            }
        )
    header = "# FAQ stubs from unanswered questions; fill in, rename ids, move into data/faq/.\n"
    return header + yaml.safe_dump({"topic": "todo", "entries": entries}, allow_unicode=True, sort_keys=False)


def since_datetime(value: str, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - parse_since(value)
