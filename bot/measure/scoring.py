"""Scores of predictions against labelled questions: accuracy in and out of scope, macro-F1,
per-intent precision/recall/F1 (sklearn.metrics), the confusion matrix with its worst cells, and
calibration by confidence bucket; and their text form. The definitions are those of
bot.measure.evaluate's docstring and ../shared/eval/README.md.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.measure import text_table
from bot.measure.labelled import OUT_OF_SCOPE, LabelledQuestion, Prediction, num, pct, ratio

CALIBRATION_BUCKETS = 10
WORST_CONFUSIONS = 10
EXAMPLES_PER_CONFUSION = 3


def confusion(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts of (expected, predicted) pairs: rows in the order of `labels` expected, columns predicted."""
    from sklearn.metrics import confusion_matrix

    if not labels:
        return []
    with warnings.catch_warnings():
        # sklearn warns when the matrix is 1×1 in case labels were forgotten; here they are given.
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        matrix = confusion_matrix(gold, predicted, labels=list(labels))
    return [[int(v) for v in row] for row in matrix]


def score(
    rows: Sequence[LabelledQuestion], predictions: Sequence[Prediction], intent_threshold: float
) -> dict[str, Any]:
    """Accuracy, rejection, macro-F1, confusion matrix, worst confusions and calibration.

    Keys: in_scope, out_of_scope, macro_f1, per_intent, confusion, worst_confusions, calibration.
    """
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} rows but {len(predictions)} predictions")
    # The label a row counts under: its alt_intent when that is what was predicted.
    gold = [p.intent if r.accepts(p.intent) else r.intent for r, p in zip(rows, predictions)]
    predicted = [p.intent for p in predictions]
    rejected = [p.intent == OUT_OF_SCOPE or p.confidence < intent_threshold for p in predictions]

    in_rows = [i for i, r in enumerate(rows) if r.in_scope]
    out_rows = [i for i, r in enumerate(rows) if not r.in_scope]
    in_correct = sum(rows[i].accepts(predicted[i]) for i in in_rows)
    in_confident = sum(rows[i].accepts(predicted[i]) and not rejected[i] for i in in_rows)
    in_rejected = sum(rejected[i] for i in in_rows)
    out_rejected = sum(rejected[i] for i in out_rows)
    out_predicted = sum(predicted[i] == OUT_OF_SCOPE for i in out_rows)

    # Imported here: the CLI imports this module to list its commands (see bot/measure/__init__).
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(gold))
    per_intent: dict[str, dict[str, Any]] = {}
    macro_f1 = None
    if labels:
        # zero_division=0: an intent never predicted has precision 0, not a warning.
        precision, recall, f1, support = precision_recall_fscore_support(
            gold, predicted, labels=labels, average=None, zero_division=0
        )
        per_intent = {
            label: {
                "support": int(support[i]),
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
            }
            for i, label in enumerate(labels)
        }
        macro_f1 = round(float(f1.mean()), 4)

    matrix_labels = sorted(set(gold) | set(predicted))
    matrix = confusion(gold, predicted, matrix_labels)

    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if g != p:
            pairs[(g, p)].append(i)
    worst = sorted(pairs.items(), key=lambda item: (-len(item[1]), item[0]))[:WORST_CONFUSIONS]
    worst_confusions = [
        {
            "intent": g,
            "predicted": p,
            "count": len(indexes),
            "examples": [
                {"question": rows[i].question, "confidence": round(predictions[i].confidence, 4)}
                for i in sorted(indexes, key=lambda i: -predictions[i].confidence)[:EXAMPLES_PER_CONFUSION]
            ],
        }
        for (g, p), indexes in worst
    ]

    return {
        "in_scope": {
            "rows": len(in_rows),
            "correct": in_correct,
            "accuracy": ratio(in_correct, len(in_rows)),
            # Correct and at or above the threshold: the bot acts on the right intent at once.
            "confident_correct": ratio(in_confident, len(in_rows)),
            # Below the threshold or predicted out_of_scope: the bot clarifies or falls back.
            "rejected": ratio(in_rejected, len(in_rows)),
        },
        "out_of_scope": {
            "rows": len(out_rows),
            "rejected": out_rejected,
            "rejection_rate": ratio(out_rejected, len(out_rows)),
            "predicted_out_of_scope": ratio(out_predicted, len(out_rows)),
        },
        "macro_f1": macro_f1,
        "per_intent": per_intent,
        "confusion": {"labels": matrix_labels, "matrix": matrix},
        "worst_confusions": worst_confusions,
        "calibration": calibration(rows, predictions),
    }


def calibration(
    rows: Sequence[LabelledQuestion], predictions: Sequence[Prediction], buckets: int = CALIBRATION_BUCKETS
) -> dict[str, Any]:
    """Accuracy by confidence bucket ([0, 0.1), [0.1, 0.2) ... [0.9, 1.0]) and the expected
    calibration error (the bucket-weighted gap between confidence and accuracy).

    A prediction is correct when the row accepts it, so an `out_of_scope` row is correct only
    when predicted `out_of_scope`.
    """
    counts = [0] * buckets
    hits = [0] * buckets
    confidence_sums = [0.0] * buckets
    for row, prediction in zip(rows, predictions):
        b = min(int(prediction.confidence * buckets), buckets - 1)
        counts[b] += 1
        hits[b] += row.accepts(prediction.intent)
        confidence_sums[b] += prediction.confidence
    total = sum(counts)
    table = []
    ece = 0.0
    for b in range(buckets):
        accuracy = hits[b] / counts[b] if counts[b] else None
        mean_confidence = confidence_sums[b] / counts[b] if counts[b] else None
        if counts[b]:
            ece += counts[b] / total * abs(accuracy - mean_confidence)  # type: ignore[operator]
        table.append(
            {
                "low": round(b / buckets, 2),
                "high": round((b + 1) / buckets, 2),
                "rows": counts[b],
                "mean_confidence": None if mean_confidence is None else round(mean_confidence, 4),
                "accuracy": None if accuracy is None else round(accuracy, 4),
            }
        )
    return {"buckets": table, "ece": round(ece, 4) if total else None}


def format_scores(scores: dict[str, Any], intent_threshold: float, *, matrix: bool = True) -> str:
    """The text form of a `score` dict."""
    ins, oos = scores["in_scope"], scores["out_of_scope"]
    lines = [
        f"  in-scope accuracy        {pct(ins['accuracy'])}  ({ins['correct']}/{ins['rows']}; intent or alt_intent, any confidence)",
        f"  macro-F1                 {num(scores['macro_f1'])}",
        f"  out-of-scope rejection   {pct(oos['rejection_rate'])}  ({oos['rejected']}/{oos['rows']}; predicted out_of_scope or confidence < {intent_threshold})",
        f"  in-scope, confident      {pct(ins['confident_correct'])}  (right intent at or above the threshold: acted on at once)",
        f"  in-scope, not trusted    {pct(ins['rejected'])}  (below the threshold or out_of_scope: the bot clarifies)",
        f"  calibration error (ECE)  {num(scores['calibration']['ece'])}",
        "",
        "Per intent",
        text_table(
            ["intent", "support", "precision", "recall", "F1"],
            [
                [k, v["support"], num(v["precision"], 2), num(v["recall"], 2), num(v["f1"], 2)]
                for k, v in scores["per_intent"].items()
            ],
        ),
    ]
    if matrix:
        lines += [
            "",
            "Confusion matrix (rows: expected, columns: predicted, numbered as the rows)",
            format_confusion(scores["confusion"]),
        ]
    lines += ["", "Worst confusions"]
    if not scores["worst_confusions"]:
        lines.append("  none")
    for item in scores["worst_confusions"]:
        lines.append(f"  {item['count']:>3} × {item['intent']} -> {item['predicted']}")
        for example in item["examples"]:
            lines.append(f"        {example['confidence']:.2f}  {example['question']}")
    lines += ["", "Calibration (accuracy by confidence bucket)"]
    lines.append(
        text_table(
            ["confidence", "rows", "mean conf.", "accuracy"],
            [
                [f"{b['low']:.1f}–{b['high']:.1f}", b["rows"], num(b["mean_confidence"], 2), num(b["accuracy"], 2)]
                for b in scores["calibration"]["buckets"]
            ],
        )
    )
    return "\n".join(lines)


def format_confusion(confusion: dict[str, Any]) -> str:
    labels = confusion["labels"]
    headers = ["expected \\ predicted"] + [str(i) for i in range(1, len(labels) + 1)]
    rows = [
        [f"{i:>2} {label}"] + [v if v else "·" for v in confusion["matrix"][i - 1]]
        for i, label in enumerate(labels, start=1)
    ]
    return text_table(headers, rows)
