"""Labelled questions: the rows of an evaluation file (`intent`, `question`, optional
`alt_intent`), the product's own prediction for each, and the number helpers every evaluation
report shares (`ratio`, `pct`, `num`). Used by bot.measure.evaluate (intents, cross-validation),
bot.measure.faq_eval and bot.measure.ood_eval.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.measure import MeasureError
from bot.nlu.training_data import INTENTS

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLU

OUT_OF_SCOPE = "out_of_scope"
COLUMN_INTENT = "intent"
COLUMN_QUESTION = "question"
COLUMN_ALT_INTENT = "alt_intent"

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
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


def load_nlu(settings: Settings, progress: Progress = quiet) -> NLU:
    """The trained model, training it first when it is missing or older than data/nlu."""
    from bot.nlu.pipeline import NLU
    from bot.training import ensure_model

    ensure_model(settings, auto_train=True, progress=progress)
    return NLU.load(settings.models_dir)


def predict(nlu: NLU, questions: Sequence[str]) -> list[Prediction]:
    """The product's own parse of each question (normalisation included)."""
    predictions = []
    for question in questions:
        parsed = nlu.parse(question)
        predictions.append(Prediction(parsed["intent"], float(parsed["confidence"])))
    return predictions


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
