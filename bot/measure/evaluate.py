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

This module measures intents (on a labelled file, and cross-validated on data/nlu) and is the
one import for every evaluation: the rows and their predictions live in bot.measure.labelled,
FAQ retrieval in bot.measure.faq_eval, out-of-domain rejection in bot.measure.ood_eval and the
heatmap in bot.measure.plot,
the scores of predictions against labels in bot.measure.scoring; their public names are re-exported here.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.measure import MeasureError, text_table
from bot.measure.faq_eval import (
    CALIBRATION_TOLERANCE,
    FAQ_DEPTH,
    FAQ_MISSES_SHOWN,
    evaluate_faq,
    faq_calibration,
    format_faq_report,
    score_faq,
)
from bot.measure.labelled import (
    COLUMN_ALT_INTENT,
    COLUMN_INTENT,
    COLUMN_QUESTION,
    OUT_OF_SCOPE,
    LabelledQuestion,
    Prediction,
    Progress,
    load_nlu,
    num,
    pct,
    predict,
    quiet,
    read_eval_file,
)
from bot.measure.ood_eval import (
    COLUMN_CATEGORY,
    OOD_ACCEPTED_SHOWN,
    OUT_OF_DOMAIN_FILE,
    evaluate_out_of_domain,
    format_out_of_domain_report,
    read_categories,
)
from bot.measure.plot import plot_confusion, require_matplotlib
from bot.measure.scoring import (
    CALIBRATION_BUCKETS,
    EXAMPLES_PER_CONFUSION,
    WORST_CONFUSIONS,
    calibration,
    confusion,
    format_confusion,
    format_scores,
    score,
)
from bot.nlu.training_data import TrainingData

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLU

__all__ = [
    "CALIBRATION_BUCKETS",
    "CALIBRATION_TOLERANCE",
    "COLUMN_ALT_INTENT",
    "COLUMN_CATEGORY",
    "COLUMN_INTENT",
    "COLUMN_QUESTION",
    "CV_FOLDS",
    "CV_SEED",
    "DEFAULT_EVAL_FILE",
    "EVAL_SCHEMA",
    "EXAMPLES_PER_CONFUSION",
    "FAQ_DEPTH",
    "FAQ_MISSES_SHOWN",
    "OOD_ACCEPTED_SHOWN",
    "OUT_OF_DOMAIN_FILE",
    "OUT_OF_SCOPE",
    "WORST_CONFUSIONS",
    "LabelledQuestion",
    "Prediction",
    "Progress",
    "calibration",
    "confusion",
    "cross_validate",
    "cross_validate_project",
    "default_eval_file",
    "evaluate_faq",
    "evaluate_intents",
    "evaluate_out_of_domain",
    "faq_calibration",
    "format_confusion",
    "format_cv_report",
    "format_faq_report",
    "format_intent_report",
    "format_out_of_domain_report",
    "format_scores",
    "load_nlu",
    "plot_confusion",
    "predict",
    "read_categories",
    "read_eval_file",
    "require_matplotlib",
    "score",
    "score_faq",
]

EVAL_SCHEMA = "walletbot.eval/1"
# The shared development set, relative to the project folder (the folder of config.yml).
DEFAULT_EVAL_FILE = Path("..") / "shared" / "eval" / "real_questions_dev.tsv"

CV_FOLDS = 5
CV_SEED = 7


# --------------------------------------------------------------------------- reading


def default_eval_file(settings: Settings) -> Path | None:
    """../shared/eval/real_questions_dev.tsv next to the project, when it exists."""
    path = (settings.root / DEFAULT_EVAL_FILE).resolve()
    return path if path.is_file() else None


# --------------------------------------------------------------------------- intents on a file


def evaluate_intents(
    settings: Settings,
    rows: Sequence[LabelledQuestion],
    *,
    source: str = "",
    nlu: NLU | None = None,
    progress: Progress = quiet,
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
    progress: Progress = quiet,
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


def cross_validate_project(settings: Settings, *, folds: int = CV_FOLDS, progress: Progress = quiet) -> dict[str, Any]:
    """Cross-validation on the project's data/nlu."""
    from bot.nlu.training_data import load_training_data

    data, _problems = load_training_data(settings.data_dir, settings.root)
    return cross_validate(data, intent_threshold=settings.nlu.intent_threshold, folds=folds, progress=progress)


# --------------------------------------------------------------------------- output


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
        f"  accuracy (all intents)   {pct(acc['mean'])} ± {acc['std'] * 100:.1f}",
        f"  macro-F1                 {num(f1['mean'])} ± {f1['std']:.3f}",
        text_table(
            ["fold", "examples", "accuracy", "macro-F1", "seconds"],
            [
                [i, f["examples"], pct(f["accuracy"]), num(f["macro_f1"]), f["seconds"]]
                for i, f in enumerate(report["per_fold"], start=1)
            ],
        ),
        "",
        "Pooled out-of-fold predictions",
        format_scores(report["pooled"], intent_threshold, matrix=False),
    ]
    return "\n".join(lines)
