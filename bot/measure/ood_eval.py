"""Questions outside the wallet's domain (other products and organisations, other people's data,
general knowledge...): how often the assistant rejects or clarifies them instead of acting on
them as one of its intents, by category.

    report = evaluate_out_of_domain(settings)
    print(format_out_of_domain_report(report))
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.measure import MeasureError, text_table
from bot.measure.labelled import OUT_OF_SCOPE, Progress, load_nlu, pct, predict, quiet, ratio, read_eval_file

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLU

# Questions outside the wallet's domain, written by category, with a `category` column; relative
# to the project folder (the folder of config.yml).
OUT_OF_DOMAIN_FILE = Path("data") / "eval" / "out_of_domain.tsv"
COLUMN_CATEGORY = "category"
OOD_ACCEPTED_SHOWN = 15


def read_categories(path: Path) -> list[str]:
    """The `category` column of a TSV read by `read_eval_file` (same rows, same order; "" when
    the file has no such column)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip() for h in next(reader, [])]
        at = header.index(COLUMN_CATEGORY) if COLUMN_CATEGORY in header else None
        return [
            (record[at].strip() if at is not None and at < len(record) else "")
            for record in reader
            if any(value.strip() for value in record)
        ]


def evaluate_out_of_domain(
    settings: Settings, *, path: Path | None = None, nlu: NLU | None = None, progress: Progress = quiet
) -> dict[str, Any]:
    """How often questions outside the domain are rejected (predicted `out_of_scope` or below
    `nlu.intent_threshold`: the bot says what it can help with, or clarifies) rather than acted
    on as one of the wallet's intents.

    Keys: file, rows, rejected, rejection_rate, acted_on (share read as an in-scope intent at or
    above the threshold), per_category [{category, rows, rejected, rejection_rate}], accepted
    [{question, category, intent, confidence}] (the most confident failures first).

    Raises:
        MeasureError: the file is missing or malformed, or a row is labelled in scope.
    """
    path = path or settings.root / OUT_OF_DOMAIN_FILE
    rows = read_eval_file(path)
    inside = [row for row in rows if row.in_scope]
    if inside:
        raise MeasureError(
            f"{path}:{inside[0].line}: every row of an out-of-domain file is labelled out_of_scope; found '{inside[0].intent}'."
        )
    categories = read_categories(path)
    nlu = nlu or load_nlu(settings, progress)
    started = time.perf_counter()
    predictions = predict(nlu, [row.question for row in rows])
    threshold = settings.nlu.intent_threshold
    rejected = [p.intent == OUT_OF_SCOPE or p.confidence < threshold for p in predictions]
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for category, was_rejected in zip(categories, rejected):
        by_category[category][0] += 1
        by_category[category][1] += was_rejected
    accepted: list[dict[str, Any]] = [
        {"question": row.question, "category": category, "intent": p.intent, "confidence": round(p.confidence, 4)}
        for row, category, p, was_rejected in zip(rows, categories, predictions, rejected)
        if not was_rejected
    ]
    accepted.sort(key=lambda item: -float(item["confidence"]))
    return {
        "file": str(path.relative_to(settings.root) if path.is_relative_to(settings.root) else path),
        "rows": len(rows),
        "rejected": sum(rejected),
        "rejection_rate": ratio(sum(rejected), len(rows)),
        "acted_on": ratio(len(rows) - sum(rejected), len(rows)),
        "per_category": [
            {"category": name, "rows": n, "rejected": r, "rejection_rate": ratio(r, n)}
            for name, (n, r) in sorted(by_category.items())
        ],
        "accepted": accepted[:OOD_ACCEPTED_SHOWN],
        "seconds": round(time.perf_counter() - started, 3),
    }


def format_out_of_domain_report(report: dict[str, Any]) -> str:
    lines = [
        f"Out of domain: {report['file']} ({report['rows']} questions about other products, organisations, people and topics)",
        f"  rejected or clarified    {pct(report['rejection_rate'])}  ({report['rejected']}/{report['rows']}; out_of_scope or below the threshold)",
        "",
        text_table(
            ["category", "rows", "rejected"],
            [[c["category"] or "-", c["rows"], pct(c["rejection_rate"])] for c in report["per_category"]],
        ),
        "",
        "Acted on as an in-scope intent, most confident first",
    ]
    if not report["accepted"]:
        lines.append("  none")
    for item in report["accepted"]:
        lines.append(f"  {item['confidence']:.2f}  {item['intent']:<20} [{item['category']}] {item['question']}")
    return "\n".join(lines)
