"""How well the assistant understands: intents on a labelled file, cross-validation on data/nlu,
and FAQ retrieval with each alternate held out of the index.

    rows = read_eval_file(Path("../shared/eval/real_questions_dev.tsv"))
    report = evaluate_intents(settings, rows, source="real_questions_dev.tsv")
    print(format_intent_report(report))

Definitions (the same as ../shared/eval/README.md):

- in-scope accuracy: share of rows whose intent is not `out_of_scope` for which the predicted
  intent is `intent` or `alt_intent`, whatever the confidence;
- out-of-scope rejection: share of `out_of_scope` rows predicted `out_of_scope` or with a
  confidence below `nlu.intent_threshold` (the bot clarifies instead of acting);
- macro-F1: the mean F1 over the intents that occur as labels in the file. A row whose prediction
  is its `alt_intent` counts as labelled with that intent, so an accepted answer is never a
  confusion. The confusion matrix uses the same labels and the raw predicted intent.

Every report is a plain dict whose keys are documented in docs/accuracy.md and pinned by
tests/test_measure.py; `schema` changes when a key changes meaning.
"""

from __future__ import annotations

import csv
import math
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.measure import MeasureError, text_table
from bot.nlu.training_data import INTENTS, TrainingData

if TYPE_CHECKING:
    from bot.config import FaqSettings
    from bot.faq.index import FaqIndex
    from bot.nlu.pipeline import NLU

EVAL_SCHEMA = "walletbot.eval/1"
OUT_OF_SCOPE = "out_of_scope"
COLUMN_INTENT = "intent"
COLUMN_QUESTION = "question"
COLUMN_ALT_INTENT = "alt_intent"
# The shared development set, relative to the project folder (the folder of config.yml).
DEFAULT_EVAL_FILE = Path("..") / "shared" / "eval" / "real_questions_dev.tsv"
# Questions outside the wallet's domain (other products and organisations, other people's data,
# general knowledge...), written by category, with a `category` column.
OUT_OF_DOMAIN_FILE = Path("data") / "eval" / "out_of_domain.tsv"
COLUMN_CATEGORY = "category"
OOD_ACCEPTED_SHOWN = 15
# How far the FAQ calibration in use may differ from the one today's data would choose before
# `walletbot eval --faq` prints the new knots.
CALIBRATION_TOLERANCE = 0.02

CALIBRATION_BUCKETS = 10
WORST_CONFUSIONS = 10
EXAMPLES_PER_CONFUSION = 3
CV_FOLDS = 5
CV_SEED = 7
# FAQ hits searched per query: MRR is MRR@10 (a correct entry further down counts 0).
FAQ_DEPTH = 10
FAQ_MISSES_SHOWN = 15

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    """One row of an evaluation file: a question and the intent(s) that count as correct."""

    question: str
    intent: str
    alt_intent: str | None = None
    line: int = 0

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE

    def accepts(self, intent: str) -> bool:
        return intent == self.intent or (self.alt_intent is not None and intent == self.alt_intent)


@dataclass(frozen=True, slots=True)
class Prediction:
    intent: str
    confidence: float


# --------------------------------------------------------------------------- reading


def read_eval_file(path: Path) -> list[LabelledQuestion]:
    """Read a TSV with a header naming `intent`, `question` and optionally `alt_intent` (other
    columns, such as `source`, are ignored).

    Raises:
        MeasureError: the file is missing, has no such header, or a row has an unknown intent
            or an empty question (reported as `file:line`).
    """
    if not path.is_file():
        raise MeasureError(
            f"Evaluation file '{path}' not found: give the path of a TSV with columns intent and question."
        )
    rows: list[LabelledQuestion] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in (COLUMN_INTENT, COLUMN_QUESTION) if c not in header]
        if missing:
            raise MeasureError(
                f"{path}:1: the header must name the columns intent and question (tab-separated); "
                f"missing {', '.join(missing)}, found {header!r}."
            )
        at = {name: header.index(name) for name in header}

        def cell(record: list[str], name: str) -> str:
            index = at.get(name)
            return record[index].strip() if index is not None and index < len(record) else ""

        for line, record in enumerate(reader, start=2):
            if not any(value.strip() for value in record):
                continue
            intent, question, alt = (cell(record, c) for c in (COLUMN_INTENT, COLUMN_QUESTION, COLUMN_ALT_INTENT))
            for label in filter(None, (intent, alt)):
                if label not in INTENTS:
                    raise MeasureError(f"{path}:{line}: unknown intent '{label}'; use one of {', '.join(INTENTS)}.")
            if not intent:
                raise MeasureError(f"{path}:{line}: the intent column is empty; every row needs an intent.")
            if not question:
                raise MeasureError(f"{path}:{line}: the question column is empty; every row needs a question.")
            rows.append(LabelledQuestion(question, intent, alt or None, line))
    if not rows:
        raise MeasureError(f"Evaluation file '{path}' has a header but no rows.")
    return rows


def default_eval_file(settings: Settings) -> Path | None:
    """../shared/eval/real_questions_dev.tsv next to the project, when it exists."""
    path = (settings.root / DEFAULT_EVAL_FILE).resolve()
    return path if path.is_file() else None


def load_nlu(settings: Settings, progress: Progress = _quiet) -> NLU:
    """The trained model, training it first when it is missing or older than data/nlu."""
    from bot.nlu.pipeline import NLU
    from bot.training import ensure_model

    ensure_model(settings, auto_train=True, progress=progress)
    return NLU.load(settings.models_dir)


# --------------------------------------------------------------------------- scoring


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


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
            "accuracy": _ratio(in_correct, len(in_rows)),
            # Correct and at or above the threshold: the bot acts on the right intent at once.
            "confident_correct": _ratio(in_confident, len(in_rows)),
            # Below the threshold or predicted out_of_scope: the bot clarifies or falls back.
            "rejected": _ratio(in_rejected, len(in_rows)),
        },
        "out_of_scope": {
            "rows": len(out_rows),
            "rejected": out_rejected,
            "rejection_rate": _ratio(out_rejected, len(out_rows)),
            "predicted_out_of_scope": _ratio(out_predicted, len(out_rows)),
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


# --------------------------------------------------------------------------- intents on a file


def predict(nlu: NLU, questions: Sequence[str]) -> list[Prediction]:
    """The product's own parse of each question (normalisation included)."""
    predictions = []
    for question in questions:
        parsed = nlu.parse(question)
        predictions.append(Prediction(parsed["intent"], float(parsed["confidence"])))
    return predictions


def evaluate_intents(
    settings: Settings,
    rows: Sequence[LabelledQuestion],
    *,
    source: str = "",
    nlu: NLU | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Score the trained model (trained first if needed) on labelled rows; see `score` for keys."""
    nlu = nlu or load_nlu(settings, progress)
    started = time.perf_counter()
    predictions = predict(nlu, [r.question for r in rows])
    seconds = time.perf_counter() - started
    meta = nlu.classifier.meta
    threshold = settings.nlu.intent_threshold
    return {
        "file": source,
        "rows": len(rows),
        "intent_threshold": threshold,
        "model": {
            "trained_at": meta.get("trained_at"),
            "examples": meta.get("examples"),
            "c": meta.get("c"),
            "fingerprint": str(meta.get("fingerprint", ""))[:12],
        },
        **score(rows, predictions, threshold),
        "seconds": round(seconds, 3),
    }


# --------------------------------------------------------------------------- cross-validation


def cross_validate(
    data: TrainingData,
    *,
    intent_threshold: float,
    folds: int = CV_FOLDS,
    seed: int = CV_SEED,
    c: float | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the classifier on `data` (each fold trains a fresh
    model, temperature calibration included, exactly as `walletbot train` does).

    `c` is the classifier's regularisation (default: the one `walletbot train` uses).

    Keys: folds, examples, seed, c, seconds, per_fold [{accuracy, macro_f1, seconds}], accuracy
    {mean, std}, macro_f1 {mean, std}, pooled (the `score` of all out-of-fold predictions).
    Accuracy here is over every example, out_of_scope included (exact intent).

    Raises:
        MeasureError: an intent has fewer examples than folds.
    """
    from sklearn.model_selection import StratifiedKFold

    from bot.nlu.classifier import DEFAULT_C, IntentClassifier
    from bot.nlu.normalize import normalize

    c = DEFAULT_C if c is None else c
    counts = Counter(intent for _, intent in data.examples)
    if len(counts) < 2:
        raise MeasureError(f"Cross-validation needs at least two intents with examples; found {sorted(counts)}.")
    scarce = sorted((n, intent) for intent, n in counts.items() if n < folds)
    if scarce:
        n, intent = scarce[0]
        raise MeasureError(
            f"Cross-validation with {folds} folds needs at least {folds} examples per intent; '{intent}' has {n}: add examples or use fewer folds."
        )

    started = time.perf_counter()
    texts = [text for text, _ in data.examples]
    labels = [intent for _, intent in data.examples]
    rows = [LabelledQuestion(text, intent) for text, intent in data.examples]
    predictions: list[Prediction | None] = [None] * len(rows)
    per_fold = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (train_idx, test_idx) in enumerate(splitter.split(texts, labels), start=1):
        progress(f"cross-validation fold {number}/{folds}")
        fold_started = time.perf_counter()
        subset = TrainingData(
            examples=[data.examples[i] for i in train_idx],
            synonyms=data.synonyms,
            lookups=data.lookups,
            fingerprint=f"cv-{number}",
        )
        classifier, _report = IntentClassifier.train(subset, c=c)
        for i in test_idx:
            norm = normalize(texts[i])
            intent, confidence = classifier.rank(norm)[0] if norm else (OUT_OF_SCOPE, 1.0)
            predictions[i] = Prediction(intent, confidence)
        fold_rows = [rows[i] for i in test_idx]
        fold_predictions = [predictions[i] for i in test_idx]
        fold_score = score(fold_rows, fold_predictions, intent_threshold)
        correct = sum(r.accepts(p.intent) for r, p in zip(fold_rows, fold_predictions))
        per_fold.append(
            {
                "examples": len(test_idx),
                "accuracy": round(correct / len(test_idx), 4),
                "macro_f1": fold_score["macro_f1"],
                "seconds": round(time.perf_counter() - fold_started, 2),
            }
        )
    return {
        "folds": folds,
        "examples": len(rows),
        "seed": seed,
        "c": c,
        "seconds": round(time.perf_counter() - started, 2),
        "per_fold": per_fold,
        "accuracy": _mean_std([f["accuracy"] for f in per_fold]),
        "macro_f1": _mean_std([f["macro_f1"] for f in per_fold]),
        "pooled": score(rows, predictions, intent_threshold),  # type: ignore[arg-type]
    }


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"mean": round(mean, 4), "std": round(std, 4)}


def cross_validate_project(settings: Settings, *, folds: int = CV_FOLDS, progress: Progress = _quiet) -> dict[str, Any]:
    """Cross-validation on the project's data/nlu."""
    from bot.nlu.training_data import load_training_data

    data, _problems = load_training_data(settings.data_dir, settings.root)
    return cross_validate(data, intent_threshold=settings.nlu.intent_threshold, folds=folds, progress=progress)


# --------------------------------------------------------------------------- FAQ retrieval


def score_faq(index: FaqIndex, faq: FaqSettings, *, depth: int = FAQ_DEPTH) -> dict[str, Any]:
    """Search every alternate of every entry with that alternate held out of the index.

    Keys: entries, queries, depth, top1, top3, mrr (MRR@depth), answer_threshold, answer_margin,
    answered_correctly (top hit right, at or above the answer threshold and ahead of the next entry
    by the answer margin: the bot answers it directly), answered_wrongly (top hit wrong and as
    confident: a wrong answer is given), per_topic [{topic, queries, top1, top3, mrr}], misses [{id, alternate, got, score}]
    (top-1 misses, the most confident first).
    """
    from bot.nlu.normalize import normalize
    from bot.text import PLACEHOLDERS, fill

    blanks = {name: "" for name in PLACEHOLDERS}  # the index holds texts with placeholders blanked
    queries = top1 = top3 = answered_right = answered_wrong = 0
    reciprocal = 0.0
    by_topic: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    misses: list[dict[str, Any]] = []
    for entry in index.entries:
        for alternate in entry.alternates:
            query = normalize(fill(alternate, blanks))
            if not query:
                continue
            hits = index.search(query, k=depth, exclude_text=query)
            ids = [hit.entry.id for hit in hits]
            rank = ids.index(entry.id) + 1 if entry.id in ids else None
            queries += 1
            topic = by_topic[entry.topic]
            topic[0] += 1
            if rank == 1:
                top1 += 1
                topic[1] += 1
            if rank is not None and rank <= 3:
                top3 += 1
                topic[2] += 1
            if rank is not None:
                reciprocal += 1 / rank
                topic[3] += 1 / rank
            if hits and faq.answers(hits[0]):
                if rank == 1:
                    answered_right += 1
                else:
                    answered_wrong += 1
            if rank != 1:
                misses.append(
                    {
                        "id": entry.id,
                        "alternate": alternate,
                        "got": ids[0] if ids else None,
                        "score": round(hits[0].score, 4) if hits else None,
                        "rank": rank,
                    }
                )
    misses.sort(key=lambda m: -(m["score"] or 0))
    return {
        "entries": len(index.entries),
        "queries": queries,
        "depth": depth,
        "top1": _ratio(top1, queries),
        "top3": _ratio(top3, queries),
        "mrr": round(reciprocal / queries, 4) if queries else None,
        "answer_threshold": faq.answer_threshold,
        "answer_margin": faq.answer_margin,
        "answered_correctly": _ratio(answered_right, queries),
        "answered_wrongly": _ratio(answered_wrong, queries),
        "per_topic": [
            {
                "topic": name,
                "queries": int(n),
                "top1": _ratio(int(t1), int(n)),
                "top3": _ratio(int(t3), int(n)),
                "mrr": round(rr / n, 4),
            }
            for name, (n, t1, t3, rr) in sorted(by_topic.items())
        ],
        "misses": misses[:FAQ_MISSES_SHOWN],
    }


def evaluate_faq(settings: Settings, *, nlu: NLU | None = None, progress: Progress = _quiet) -> dict[str, Any]:
    """FAQ retrieval on the shipped data/faq, with the index the product builds (same tokenizer,
    same optional embeddings), and the cross-validated fusion of its signals (`fusion`: each
    signal alone, all fused, all but one; see bot.measure.faq_fusion)."""
    from bot.engine import build_runtime
    from bot.measure import faq_fusion

    nlu = nlu or load_nlu(settings, progress)
    started = time.perf_counter()
    runtime = build_runtime(settings, nlu)
    report = score_faq(runtime.faq, settings.faq)
    report["fusion"] = faq_fusion.ablation(faq_fusion.collect_signals(runtime.faq), list(runtime.faq.weights))
    report["calibration"] = faq_calibration(settings, runtime.faq)
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def faq_calibration(settings: Settings, index: FaqIndex) -> dict[str, Any]:
    """The calibration knots `calibrate()` chooses for today's data (held-out alternates and the
    out_of_scope examples of data/nlu), beside those in use (`bot.faq.index.CALIBRATION` and
    `MARGIN_CALIBRATION`): keys score {in_use, chosen}, margin {in_use, chosen}, questions."""
    from bot.measure import faq_fusion
    from bot.nlu.normalize import normalize
    from bot.nlu.training_data import load_training_data

    data, _problems = load_training_data(settings.data_dir, settings.root)
    others = [normalize(text) for text, intent in data.examples if intent == OUT_OF_SCOPE]
    tops, leads = faq_fusion.top_confidences(index, others)
    return {
        "questions": len(tops),
        "score": {"in_use": index.calibration, "chosen": faq_fusion.calibrate(tops)},
        "margin": {
            "in_use": index.margin_calibration,
            "chosen": faq_fusion.calibrate(leads, faq_fusion.REFERENCE_MARGIN_QUANTILES, low=-1.0),
        },
    }


# --------------------------------------------------------------------------- out of domain


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
    settings: Settings, *, path: Path | None = None, nlu: NLU | None = None, progress: Progress = _quiet
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
        "rejection_rate": _ratio(sum(rejected), len(rows)),
        "acted_on": _ratio(len(rows) - sum(rejected), len(rows)),
        "per_category": [
            {"category": name, "rows": n, "rejected": r, "rejection_rate": _ratio(r, n)}
            for name, (n, r) in sorted(by_category.items())
        ],
        "accepted": accepted[:OOD_ACCEPTED_SHOWN],
        "seconds": round(time.perf_counter() - started, 3),
    }


def format_out_of_domain_report(report: dict[str, Any]) -> str:
    lines = [
        f"Out of domain: {report['file']} ({report['rows']} questions about other products, organisations, people and topics)",
        f"  rejected or clarified    {_pct(report['rejection_rate'])}  ({report['rejected']}/{report['rows']}; out_of_scope or below the threshold)",
        "",
        text_table(
            ["category", "rows", "rejected"],
            [[c["category"] or "-", c["rows"], _pct(c["rejection_rate"])] for c in report["per_category"]],
        ),
        "",
        "Acted on as an in-scope intent, most confident first",
    ]
    if not report["accepted"]:
        lines.append("  none")
    for item in report["accepted"]:
        lines.append(f"  {item['confidence']:.2f}  {item['intent']:<20} [{item['category']}] {item['question']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- output


def require_matplotlib() -> None:
    """Raises MeasureError when matplotlib is not installed (it is not a walletbot dependency)."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise MeasureError(
            "--plot needs matplotlib, which is not installed (it is not a walletbot dependency): "
            "run `pip install 'walletbot[plot]'` (or `pip install matplotlib`) in this environment, or leave out --plot."
        )


def plot_confusion(confusion: dict[str, Any], path: Path, title: str = "Intent confusion") -> None:
    """Write the confusion matrix as a PNG heatmap (rows: expected, columns: predicted; colour:
    share of the row, number: count).

    Raises:
        MeasureError: matplotlib is not installed (it is not a walletbot dependency).
    """
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = confusion["labels"]
    counts = np.array(confusion["matrix"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(6.0, 0.45 * len(labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * 0.9))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    axes.set_title(title)
    for r in range(len(labels)):
        for c in range(len(labels)):
            if counts[r, c]:
                axes.text(
                    c,
                    r,
                    str(int(counts[r, c])),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shares[r, c] > 0.5 else "black",
                )
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the row")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_scores(scores: dict[str, Any], intent_threshold: float, *, matrix: bool = True) -> str:
    """The text form of a `score` dict."""
    ins, oos = scores["in_scope"], scores["out_of_scope"]
    lines = [
        f"  in-scope accuracy        {_pct(ins['accuracy'])}  ({ins['correct']}/{ins['rows']}; intent or alt_intent, any confidence)",
        f"  macro-F1                 {_num(scores['macro_f1'])}",
        f"  out-of-scope rejection   {_pct(oos['rejection_rate'])}  ({oos['rejected']}/{oos['rows']}; predicted out_of_scope or confidence < {intent_threshold})",
        f"  in-scope, confident      {_pct(ins['confident_correct'])}  (right intent at or above the threshold: acted on at once)",
        f"  in-scope, not trusted    {_pct(ins['rejected'])}  (below the threshold or out_of_scope: the bot clarifies)",
        f"  calibration error (ECE)  {_num(scores['calibration']['ece'])}",
        "",
        "Per intent",
        text_table(
            ["intent", "support", "precision", "recall", "F1"],
            [
                [k, v["support"], _num(v["precision"], 2), _num(v["recall"], 2), _num(v["f1"], 2)]
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
                [f"{b['low']:.1f}–{b['high']:.1f}", b["rows"], _num(b["mean_confidence"], 2), _num(b["accuracy"], 2)]
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


def format_intent_report(report: dict[str, Any]) -> str:
    model = report["model"]
    head = (
        f"Intent evaluation: {report['file']} ({report['rows']} rows; model trained {model['trained_at']} "
        f"on {model['examples']} examples with C={model['c']}, {report['seconds']:.2f} s)"
    )
    return head + "\n" + format_scores(report, report["intent_threshold"])


def format_cv_report(report: dict[str, Any], intent_threshold: float) -> str:
    acc, f1 = report["accuracy"], report["macro_f1"]
    lines = [
        f"Cross-validation: {report['folds']}-fold stratified on data/nlu ({report['examples']} examples, C={report['c']}, seed {report['seed']}, {report['seconds']:.0f} s)",
        f"  accuracy (all intents)   {_pct(acc['mean'])} ± {acc['std'] * 100:.1f}",
        f"  macro-F1                 {_num(f1['mean'])} ± {f1['std']:.3f}",
        text_table(
            ["fold", "examples", "accuracy", "macro-F1", "seconds"],
            [
                [i, f["examples"], _pct(f["accuracy"]), _num(f["macro_f1"]), f["seconds"]]
                for i, f in enumerate(report["per_fold"], start=1)
            ],
        ),
        "",
        "Pooled out-of-fold predictions",
        format_scores(report["pooled"], intent_threshold, matrix=False),
    ]
    return "\n".join(lines)


def _format_calibration(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "Calibration: not measured"
    lines = [f"Calibration onto the thresholds' scale ({calibration['questions']} questions; see bot/faq/index.py)"]
    import numpy as np

    grid = np.linspace(0, 1, 101)
    for name, constant in (("score", "CALIBRATION"), ("margin", "MARGIN_CALIBRATION")):
        part = calibration[name]
        gap = float(np.abs(np.interp(grid, *part["in_use"]) - np.interp(grid, *part["chosen"])).max())
        verdict = (
            f"up to date (the maps differ by at most {gap:.3f})"
            if gap <= CALIBRATION_TOLERANCE
            else f"off by up to {gap:.3f}; today the data would choose {tuple(tuple(k) for k in part['chosen'])!r}"
        )
        lines.append(f"  {constant}: {verdict}")
    return "\n".join(lines)


def format_faq_report(report: dict[str, Any]) -> str:
    lines = [
        f"FAQ retrieval: {report['queries']} alternates of {report['entries']} entries, each held out of the index ({report['seconds']:.2f} s)",
        f"  top-1                    {_pct(report['top1'])}",
        f"  top-3                    {_pct(report['top3'])}",
        f"  {'MRR@' + str(report['depth']):<24} {_num(report['mrr'])}",
        f"  answered directly, right {_pct(report['answered_correctly'])}  (top hit right, score ≥ {report['answer_threshold']}, lead ≥ {report['answer_margin']})",
        f"  answered directly, wrong {_pct(report['answered_wrongly'])}  (top hit wrong, score ≥ {report['answer_threshold']}, lead ≥ {report['answer_margin']})",
        "",
        text_table(
            ["topic", "queries", "top-1", "top-3", "MRR"],
            [[t["topic"], t["queries"], _pct(t["top1"]), _pct(t["top3"]), _num(t["mrr"])] for t in report["per_topic"]],
        ),
        "",
        "Signals and their fusion, cross-validated over entries (weights chosen on 4/5 of the entries, scored on the rest)",
        text_table(
            ["signals", "CV top-1", "CV top-3", "CV MRR", "weights chosen on all entries"],
            [
                [
                    ("all but " + row["without"]) if "without" in row else " + ".join(row["signals"]),
                    _pct(row["cross_validated"]["top1"]),
                    _pct(row["cross_validated"]["top3"]),
                    _num(row["cross_validated"]["mrr"]),
                    " ".join(f"{k} {v:.1f}" for k, v in row["weights"].items()),
                ]
                for row in report.get("fusion") or []
            ],
        ),
        "",
        _format_calibration(report.get("calibration")),
        "",
        "Top-1 misses, most confident first",
    ]
    if not report["misses"]:
        lines.append("  none")
    for miss in report["misses"]:
        rank = "not in top 10" if miss["rank"] is None else f"rank {miss['rank']}"
        lines.append(f"  {miss['id']} ({rank}) got {miss['got']} at {_num(miss['score'], 2)}: {miss['alternate']}")
    return "\n".join(lines)
