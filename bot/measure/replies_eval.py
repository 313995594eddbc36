"""`walletbot eval --replies`: how well typed answers to checklist steps are read.

Scored on the held-out `data/eval/step_answers.tsv` (columns flow, step, text, kind, note), never
on the training data in `data/replies/`. Two figures matter most: accuracy by kind, and how often
a reply that is not `solved` is read as `solved` (the bot would then close a problem that is
still there: the costliest mistake).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.measure import MeasureError, text_table
from bot.nlu.replies import REPLY_KINDS

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLU

STEP_ANSWERS_FILE = Path("data") / "eval" / "step_answers.tsv"
_COLUMNS = ("flow", "step", "text", "kind")


def read_step_answers(path: Path) -> list[dict[str, str]]:
    """The labelled replies; raises MeasureError naming the file and line of a bad row."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise MeasureError(f"{path}: the header lacks column(s) {', '.join(missing)}; expected {', '.join(_COLUMNS)}, note")
            rows = []
            for line, row in enumerate(reader, start=2):
                if row["kind"] not in REPLY_KINDS or not (row["text"] or "").strip():
                    raise MeasureError(f"{path}:{line}: kind {row['kind']!r} is not one of {', '.join(REPLY_KINDS)}, or the text is empty")
                rows.append(row)
    except OSError as exc:
        raise MeasureError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not rows:
        raise MeasureError(f"{path} has no rows")
    return rows


def evaluate_replies(nlu: "NLU", rows: list[dict[str, str]], *, source: str = "") -> dict[str, Any]:
    """Accuracy overall and per kind, the confusion matrix, and replies wrongly read as solved."""
    predicted = [nlu.read_reply(row["text"])[0][0] for row in rows]
    gold = [row["kind"] for row in rows]
    support = Counter(gold)
    correct = Counter(g for g, p in zip(gold, predicted) if g == p)
    labels = [k for k in REPLY_KINDS if k in support or k in predicted]
    position = {k: i for i, k in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted):
        matrix[position[g]][position[p]] += 1
    false_solved = [row["text"] for row, p in zip(rows, predicted) if p == "solved" and row["kind"] != "solved"]
    return {
        "file": source,
        "rows": len(rows),
        "accuracy": round(sum(correct.values()) / len(rows), 4),
        "per_kind": {k: {"support": support[k], "recall": round(correct[k] / support[k], 4)} for k in labels if support[k]},
        "confusion": {"labels": labels, "matrix": matrix},
        "false_solved": false_solved,
    }


def format_replies_report(report: dict[str, Any]) -> str:
    from bot.measure.evaluate import format_confusion

    lines = [
        f"Reply kinds at checklist steps: {report['file']} ({report['rows']} rows)",
        f"  accuracy                 {report['accuracy'] * 100:.1f}%",
        f"  read as solved, wrongly  {len(report['false_solved'])}",
        *(f"        {text}" for text in report["false_solved"]),
        "",
        "Per kind",
        text_table(["kind", "support", "recall"], [[k, v["support"], f"{v['recall']:.2f}"] for k, v in report["per_kind"].items()]),
        "",
        "Confusion matrix (rows: expected, columns: predicted, numbered as the rows)",
        format_confusion(report["confusion"]),
    ]
    return "\n".join(lines)
