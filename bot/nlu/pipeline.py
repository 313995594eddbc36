"""One call from raw text to intent, confidence, ranking and entities (the `parse` contract)."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from bot.nlu.classifier import IntentClassifier, read_meta
from bot.nlu.entities import Entity, EntityExtractor
from bot.nlu.normalize import normalize, normalize_aligned
from bot.nlu.replies import REPLIES_SUBDIR, reply_fingerprint
from bot.nlu.training_data import fingerprint_files, nlu_files

MODEL_SUBDIR = "nlu"
_ONLY_MARKS = re.compile(r"[?？!！¿¡\s]+")
RANKING_SIZE = 5


class RankedIntent(TypedDict):
    intent: str
    confidence: float


class ParseResult(TypedDict):
    text: str
    intent: str
    confidence: float
    entities: list[Entity]
    ranking: list[RankedIntent]


class ModelState(enum.Enum):
    """Whether the saved model matches the training data in data/nlu."""

    UNTRAINED = "untrained"
    STALE = "stale"
    READY = "ready"


def model_state(data_dir: Path, models_dir: Path) -> ModelState:
    meta = read_meta(models_dir / MODEL_SUBDIR)
    if meta is None:
        return ModelState.UNTRAINED
    replies = read_meta(models_dir / REPLIES_SUBDIR)
    if replies is None:
        return ModelState.UNTRAINED
    if meta.get("fingerprint") != fingerprint_files(nlu_files(data_dir)) or replies.get(
        "fingerprint"
    ) != reply_fingerprint(data_dir):
        return ModelState.STALE
    return ModelState.READY


# How many distinct replies NLU.read_reply remembers (about a megabyte) before starting afresh.
REPLIES_REMEMBERED = 8192


class NLU:
    """Normalise, classify and extract entities; spans refer to the text the user typed."""

    def __init__(self, classifier: IntentClassifier, methods: dict[str, str], replies: IntentClassifier) -> None:
        self.classifier = classifier
        self.replies = replies
        self.extractor = EntityExtractor(methods)
        # The dialogue reads one message several ways in a turn (a step's answer, a mood, a skip,
        # a correction): each normalised text is classified once. Callers never mutate a ranking.
        self._replies_read: dict[str, list[tuple[str, float]]] = {}

    @classmethod
    def load(cls, models_dir: Path) -> NLU:
        classifier = IntentClassifier.load(models_dir / MODEL_SUBDIR)
        replies = IntentClassifier.load(models_dir / REPLIES_SUBDIR, tokenizer=classifier.tokenizer)
        return cls(classifier, classifier.meta.get("methods", {}), replies)

    def read_reply(self, text: str) -> list[tuple[str, float]]:
        """(reply kind, probability) pairs, best first, for a typed answer to a checklist step.

        Nothing but question or exclamation marks (？？？, !!!) has no feature the classifier sees:
        at a step it is exasperation, read as `frustration`; any other text without a known
        feature is `other` (the classifier would only return its prior).
        """
        norm = normalize(text)
        if not norm:
            return [("other", 1.0)]
        if _ONLY_MARKS.fullmatch(norm):
            return [("frustration", 1.0)]
        ranking = self._replies_read.get(norm)
        if ranking is None:
            known = self.replies.knows(norm)
            # 😂😂, asdf: nothing the model knows, so no answer to the step
            ranking = self.replies.rank(norm) if known else [("other", 1.0)]
            if len(self._replies_read) >= REPLIES_REMEMBERED:
                self._replies_read.clear()
            self._replies_read[norm] = ranking
        return ranking

    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        norm = normalize_aligned(text)
        ranking = self.classifier.rank(norm.text) if norm.text else [("out_of_scope", 1.0)]
        entities: list[Entity] = []
        for entity in self.extractor.extract(norm.text, now=now):
            start, end = norm.span_to_original(entity["start"], entity["end"])
            entities.append({"entity": entity["entity"], "value": entity["value"], "start": start, "end": end})
        intent, confidence = ranking[0]
        return {
            "text": text,
            "intent": intent,
            "confidence": round(confidence, 4),
            "entities": entities,
            "ranking": [{"intent": i, "confidence": round(c, 4)} for i, c in ranking[:RANKING_SIZE]],
        }
