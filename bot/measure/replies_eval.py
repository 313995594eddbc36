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
from bot.nlu.replies import ANSWER_KINDS as _ANSWER_KINDS
from bot.nlu.replies import REPLY_KINDS

if TYPE_CHECKING:
    from bot.dialogue import Policy
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
                raise MeasureError(
                    f"{path}: the header lacks column(s) {', '.join(missing)}; expected {', '.join(_COLUMNS)}, note"
                )
            rows = []
            for line, row in enumerate(reader, start=2):
                if row["kind"] not in REPLY_KINDS or not (row["text"] or "").strip():
                    raise MeasureError(
                        f"{path}:{line}: kind {row['kind']!r} is not one of {', '.join(REPLY_KINDS)}, or the text is empty"
                    )
                rows.append(row)
    except OSError as exc:
        raise MeasureError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not rows:
        raise MeasureError(f"{path} has no rows")
    return rows


def evaluate_replies(nlu: NLU, rows: list[dict[str, str]], *, source: str = "") -> dict[str, Any]:
    """Accuracy overall and per kind, the confusion matrix, and replies wrongly read as solved."""
    from sklearn.metrics import accuracy_score, recall_score

    from bot.measure.evaluate import confusion

    predicted = [nlu.read_reply(row["text"])[0][0] for row in rows]
    gold = [row["kind"] for row in rows]
    support = Counter(gold)
    labels = [k for k in REPLY_KINDS if k in support or k in predicted]
    labelled = [k for k in labels if support[k]]
    recall = recall_score(gold, predicted, labels=labelled, average=None, zero_division=0)
    false_solved = [row["text"] for row, p in zip(rows, predicted) if p == "solved" and row["kind"] != "solved"]
    return {
        "file": source,
        "rows": len(rows),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "per_kind": {k: {"support": support[k], "recall": round(float(recall[i]), 4)} for i, k in enumerate(labelled)},
        "confusion": {"labels": labels, "matrix": confusion(gold, predicted, labels)},
        "false_solved": false_solved,
    }


def evaluate_in_steps(policy: Policy, flows: dict[str, Any], rows: list[dict[str, str]]) -> dict[str, Any]:
    """What the bot does with each reply at its own step (the reply kind plus the step's yes/no
    words, titles and option words): right when the option it picks stands for the labelled kind,
    or the move it makes is that kind. `false_solved`: replies not labelled solved that end the
    checklist as solved."""
    right: Counter[str] = Counter()
    support: Counter[str] = Counter()
    false_solved: list[str] = []
    skipped = 0
    for row in rows:
        flow = flows.get(row["flow"])
        step = flow.steps.get(row["step"]) if flow else None
        if flow is None or step is None or not step.options:
            skipped += 1
            continue
        gold = row["kind"]
        support[gold] += 1
        reading = policy.read_step_reply(step, row["text"])
        option = reading.option or reading.leaning
        if option is not None:
            correct = gold in option.kinds or (not option.kinds and gold in _ANSWER_KINDS)
            ends_solved = flow.steps[option.next].resolved is not None
        else:
            correct = reading.move == gold
            ends_solved = reading.move == "solved"
        right[gold] += correct
        if ends_solved and gold != "solved" and not (option is not None and gold in option.kinds):
            false_solved.append(row["text"])
    total = sum(support.values())
    return {
        "rows": total,
        "skipped": skipped,
        "accuracy": round(sum(right.values()) / total, 4) if total else None,
        "per_kind": {
            k: {"support": support[k], "recall": round(right[k] / support[k], 4)} for k in REPLY_KINDS if support[k]
        },
        "false_solved": false_solved,
    }


def format_replies_report(report: dict[str, Any]) -> str:
    from bot.measure.evaluate import format_confusion

    steps = report["in_steps"]
    lines = [
        f"Reply kinds at checklist steps: {report['file']} ({report['rows']} rows)",
        f"  reply kind alone          {report['accuracy'] * 100:.1f}%  (the classifier, without the step)",
        f"  read at its step          {steps['accuracy'] * 100:.1f}%  (what the bot does: the option or move matches the label;"
        f" {steps['skipped']} rows skipped, their step is gone)",
        f"  ends as solved, wrongly   {len(steps['false_solved'])}",
        *(f"        {text}" for text in steps["false_solved"]),
        f"  kind alone says solved, wrongly  {len(report['false_solved'])}",
        *(f"        {text}" for text in report["false_solved"]),
        "",
        "At its step, per kind",
        text_table(
            ["kind", "support", "recall"],
            [[k, v["support"], f"{v['recall']:.2f}"] for k, v in steps["per_kind"].items()],
        ),
        "",
        "Reply kind alone, per kind",
        text_table(
            ["kind", "support", "recall"],
            [[k, v["support"], f"{v['recall']:.2f}"] for k, v in report["per_kind"].items()],
        ),
        "",
        "Reply kind alone: confusion matrix (rows: expected, columns: predicted, numbered as the rows)",
        format_confusion(report["confusion"]),
    ]
    return "\n".join(lines)
