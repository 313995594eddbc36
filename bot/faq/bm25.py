"""Okapi BM25 over FAQ entries, each entry one document made of all its wordings.

An entry is scored as a whole (its question and every alternate pooled), because a user's
wording usually shares a few words with several of the entry's wordings rather than all of them
with one. The score is divided by the best score the query could reach (every query term found,
at saturation), so it lies in [0, 1] and means the same for short and long questions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

K1 = 1.2
B = 0.75


class EntryBm25:
    """BM25 of one token view (words, characters, synonym groups…) over the entries."""

    def __init__(self, token_lists: Sequence[Sequence[str]], owners: Sequence[int], entries: int) -> None:
        vocabulary: dict[str, int] = {}
        for tokens in token_lists:
            for token in tokens:
                vocabulary.setdefault(token, len(vocabulary))
        self.vocabulary = vocabulary
        # Term counts per text, so one text can be taken out of its entry (held-out evaluation).
        self._text_counts = np.zeros((len(token_lists), len(vocabulary)), dtype=np.float32)
        for row, tokens in enumerate(token_lists):
            for token, n in Counter(tokens).items():
                self._text_counts[row, vocabulary[token]] = n
        self._owners = np.asarray(owners, dtype=np.int64)
        counts = np.zeros((entries, len(vocabulary)), dtype=np.float32)
        np.add.at(counts, self._owners, self._text_counts)
        self._counts = counts
        self._weights = self._term_weights(counts)

    @staticmethod
    def _term_weights(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(idf per term, saturated term frequency per entry and term)."""
        n_docs = counts.shape[0]
        df = (counts > 0).sum(axis=0)
        idf = np.where(df > 0, np.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0.0).astype(np.float32)
        lengths = counts.sum(axis=1, keepdims=True)
        average = float(lengths.mean()) or 1.0
        saturated = counts * (K1 + 1) / (counts + K1 * (1 - B + B * lengths / average))
        return idf, saturated.astype(np.float32)

    def scores(self, tokens: Sequence[str], exclude: Sequence[int] | np.ndarray = ()) -> np.ndarray:
        """Normalised BM25 of every entry for the query tokens; `exclude` lists texts left out
        of their entries (the term statistics are recomputed without them)."""
        terms = np.fromiter({i for i in map(self.vocabulary.get, tokens) if i is not None}, dtype=np.int64)
        if not len(exclude):
            idf, saturated = self._weights
        else:
            counts = self._counts.copy()
            for text in exclude:
                counts[self._owners[text]] -= self._text_counts[text]
            idf, saturated = self._term_weights(counts)
        if not len(terms):
            return np.zeros(saturated.shape[0], dtype=np.float32)
        term_idf = idf[terms]
        best = float(np.add.reduce(term_idf)) * (K1 + 1)  # term_idf.sum() without its Python wrapper
        if best <= 0:
            return np.zeros(saturated.shape[0], dtype=np.float32)
        return (saturated[:, terms] @ term_idf) / best
