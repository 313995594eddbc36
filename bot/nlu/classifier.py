"""The intent classifier: TF-IDF features + multinomial logistic regression, temperature-calibrated.

Saved as `meta.json` (labels, vocabulary, synonyms, provenance) and `weights.npz` (arrays,
loaded with allow_pickle=False), so loading a model can never execute code.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ModelError, ModelNotTrained
from bot.nlu.features import TfidfVectorizer, Tokenizer
from bot.nlu.training_data import OWN_REFERENCES, TrainingData

FORMAT_VERSION = 1
META_FILE = "meta.json"
WEIGHTS_FILE = "weights.npz"
DEFAULT_C = 24.0
OUT_OF_SCOPE = "out_of_scope"
# Normalised texts whose ranking a model remembers (~2 KB each): enough for the messages being
# answered at once, each read a few ways.
RANKINGS_REMEMBERED = 1024


@dataclass(slots=True)
class TrainReport:
    examples: int
    intents: int
    features: int
    temperature: float
    seconds: float


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the held-out negative log-likelihood."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        probs = _softmax(logits / t)
        return float(-np.log(probs[np.arange(len(targets)), targets] + 1e-12).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded").x)


class IntentClassifier:
    """Predicts a ranking of intents with calibrated probabilities for one normalised text."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        vectorizer: TfidfVectorizer,
        labels: list[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float,
        meta: dict[str, Any],
    ) -> None:
        self.tokenizer = tokenizer
        self.vectorizer = vectorizer
        self.labels = labels
        self.coef_t = np.ascontiguousarray(coef.T.astype(np.float32))  # features x classes
        self.intercept = intercept.astype(np.float32)
        self.temperature = temperature
        self.meta = meta
        # g:<gazetteer> feature -> intents a message with that feature is read out_of_scope for.
        self._rejects = {
            f"g:{name}": frozenset(intents) for name, intents in meta.get("gazetteer_rejects", {}).items() if intents
        }
        self._own = tuple(meta.get("own_references", []))
        # The intents some gazetteer rejects: a best intent outside them needs no gazetteer match.
        self._rejectable = (
            frozenset().union(*self._rejects.values()) if self._rejects and OUT_OF_SCOPE in labels else frozenset()
        )
        # One message is ranked several times (the parse, the FAQ intent prior, the dialogue's
        # readings of it and of its clauses): each normalised text is ranked once. The cache is
        # this model's (a retrained model is a new object), bounded, and lru_cache is thread-safe.
        self._ranked = lru_cache(maxsize=RANKINGS_REMEMBERED)(self._rank)

    @classmethod
    def train(
        cls,
        data: TrainingData,
        *,
        c: float = DEFAULT_C,
        progress: Callable[[str], None] = lambda _msg: None,
    ) -> tuple[IntentClassifier, TrainReport]:
        """Fit on every example of `data`; calibrate the temperature by 3-fold cross-validation."""
        # scikit-learn is needed only here: serving processes never import it (1.5 s, 76 MB).
        import sklearn
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        started = datetime.now(UTC)
        from bot.nlu.normalize import normalize

        domain_terms = data.lookups.get("domain_terms", []) + data.lookups.get("payment_method", [])
        gazetteers = data.gazetteers()
        tokenizer = Tokenizer(data.synonyms, domain_terms, gazetteers)
        texts = [normalize(t) for t, _ in data.examples]
        labels = sorted({intent for _, intent in data.examples})
        if len(labels) < 2:
            raise ModelError(f"Training needs at least two intents with examples; found {labels}.")
        index = {label: i for i, label in enumerate(labels)}
        y = np.array([index[intent] for _, intent in data.examples])
        progress("features")
        token_lists = [tokenizer.tokens(t) for t in texts]
        vectorizer = TfidfVectorizer.fit(token_lists)
        x = vectorizer.transform(token_lists)

        progress("calibration")
        held_out = np.zeros((len(y), len(labels)), dtype=np.float64)
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small classes in a fold only trigger convergence chatter
            for train_idx, test_idx in folds.split(x, y):
                model = LogisticRegression(C=c, max_iter=2000, solver="newton-cg").fit(x[train_idx], y[train_idx])
                fold_logits = np.full((len(test_idx), len(labels)), -30.0)
                fold_logits[:, model.classes_] = model.decision_function(x[test_idx])
                held_out[test_idx] = fold_logits
            temperature = _fit_temperature(held_out, y)
            progress("fit")
            model = LogisticRegression(C=c, max_iter=3000, solver="newton-cg").fit(x, y)

        seconds = (datetime.now(UTC) - started).total_seconds()
        meta = {
            "format": FORMAT_VERSION,
            "fingerprint": data.fingerprint,
            "trained_at": started.isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
            },
            "examples": len(y),
            "c": c,
            "labels": labels,
            "synonyms": data.synonyms,
            "domain_terms": domain_terms,
            "gazetteers": gazetteers,
            "gazetteer_rejects": data.gazetteer_rejects(),
            "own_references": sorted({normalize(w) for w in data.lookups.get(OWN_REFERENCES, []) if w}),
            "methods": data.payment_methods(),
            "temperature": temperature,
        }
        classifier = cls(tokenizer, vectorizer, labels, model.coef_, model.intercept_, temperature, meta)
        report = TrainReport(len(y), len(labels), len(vectorizer.vocabulary), temperature, seconds)
        return classifier, report

    def knows(self, text: str) -> bool:
        """Whether the normalised text has any feature the model was trained on."""
        # Any token in the vocabulary: what a non-empty feature vector means, without weighing it.
        return not self.vectorizer.vocabulary.keys().isdisjoint(self.tokenizer.tokens(text))

    def rank(self, text: str) -> list[tuple[str, float]]:
        """(intent, probability) pairs, best first, for one normalised text (a new list each
        call: the caller may change it)."""
        return list(self._ranked(text))

    def forget(self) -> None:
        """Drop the remembered rankings (benchmarks measure a text not seen before)."""
        self._ranked.cache_clear()

    def _rank(self, text: str) -> tuple[tuple[str, float], ...]:
        indices, weights = self.vectorizer.vector(self.tokenizer.tokens(text))
        logits = weights @ self.coef_t[indices] + self.intercept
        # _softmax for one row, without the axis handling (the same operations, the same result).
        shifted = np.asarray(logits, dtype=np.float64) / self.temperature
        exp = np.exp(shifted - shifted.max())
        probs = exp / exp.sum()
        order = np.argsort(-probs)
        ranking = list(zip(map(self.labels.__getitem__, order.tolist()), probs[order].tolist(), strict=True))
        if ranking[0][0] in self._rejectable:
            ranking = self._reject_named(text, ranking)
        return tuple(ranking)

    def _reject_named(self, text: str, ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """When the text names something of a gazetteer whose rejected intents include the best
        one, out_of_scope takes its place (and its probability: the model was that sure the
        message asks for, say, a customer-service number; it is another organisation's)."""
        best = ranking[0][0]
        if not any(best in self._rejects.get(f, ()) for f in self.tokenizer.gazetteer_tokens(text)):
            return ranking
        if any(word in text for word in self._own):  # 你们在微信上有官方号吗: the wallet's own
            return ranking
        at = next(i for i, (intent, _) in enumerate(ranking) if intent == OUT_OF_SCOPE)
        ranking = list(ranking)
        (top, p_top), (oos, p_oos) = ranking[0], ranking[at]
        ranking[0], ranking[at] = (oos, p_top), (top, p_oos)
        return ranking

    def save(self, folder: Path) -> None:
        """Write meta.json and weights.npz atomically (a reader never sees half a model)."""
        folder.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta, vocabulary=self.vectorizer.vocabulary)
        suffix = f"{os.getpid()}.{threading.get_ident()}"  # two writers never share a temp file
        tmp_meta = folder / f"{META_FILE}.{suffix}.tmp"
        tmp_weights = folder / f"weights.{suffix}.tmp.npz"
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez(tmp_weights, coef_t=self.coef_t, intercept=self.intercept, idf=self.vectorizer.idf)
        tmp_weights.replace(folder / WEIGHTS_FILE)
        tmp_meta.replace(folder / META_FILE)

    @classmethod
    def load(cls, folder: Path, *, tokenizer: Tokenizer | None = None) -> IntentClassifier:
        """Load a saved model. Raises ModelNotTrained if absent, ModelError if unreadable.

        `tokenizer`: another model's, used when it was built from the same synonyms and domain
        terms (its segmentation is then the same; sharing it saves a jieba dictionary and
        segments each message once for both models).
        """
        meta_path, weights_path = folder / META_FILE, folder / WEIGHTS_FILE
        if not meta_path.is_file() or not weights_path.is_file():
            raise ModelNotTrained(f"No trained model in '{folder}': run `walletbot train`.")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(weights_path, allow_pickle=False) as arrays:
                coef_t, intercept, idf = arrays["coef_t"], arrays["intercept"], arrays["idf"]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"The model in '{folder}' is unreadable ({exc}): run `walletbot train` again.") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise ModelNotTrained(f"The model in '{folder}' has an old format: run `walletbot train`.")
        vocabulary = meta.pop("vocabulary")
        gazetteers = meta.get("gazetteers", {})
        if tokenizer is None or not tokenizer.built_from(meta["synonyms"], meta["domain_terms"], gazetteers):
            tokenizer = Tokenizer(meta["synonyms"], meta["domain_terms"], gazetteers)
        vectorizer = TfidfVectorizer(vocabulary, idf)
        return cls(tokenizer, vectorizer, meta["labels"], coef_t.T, intercept, meta["temperature"], meta)


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The saved model's metadata without loading the weights, or None when there is no model."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta.pop("vocabulary", None)
    return meta
