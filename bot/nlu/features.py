"""Turning normalised Chinese text into sparse features for the classifier and the FAQ index.

Three views of each message, because each catches what the others miss:
- character unigrams and bigrams: robust to segmentation mistakes and unseen words;
- jieba words (with the domain dictionary from `lookup: domain_terms`): whole-word meaning;
- toneless pinyin of the words and of character bigrams: homophone typos (冲值 for 充值,
  体现 for 提现) map to the same feature as the correct spelling;
- gazetteers (`lookup: gazetteer_<name>` in data/nlu): one feature `g:<name>` when the text names
  any of the table's organisations or services, so what the examples teach about one bank's or
  one app's customer service carries over to every other name in the table.
Domain synonyms from the training data are rewritten to their canonical form first.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import jieba
import numpy as np
from pypinyin import Style, lazy_pinyin
from scipy import sparse

_HAN = re.compile(r"[\u4e00-\u9fff]")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
# Texts whose jieba segmentation a tokenizer keeps (a few hundred bytes each).
SEGMENTATIONS_REMEMBERED = 1024
_PUNCT = set(" ,.!?;:'\"()[]{}<>，。！？；：、“”‘’（）【】《》…~～-_/\\|@#$%^&*+=")


@lru_cache(maxsize=1)
def _default_dictionary() -> tuple[dict[str, int], int]:
    """jieba's default prefix dictionary and total frequency, loaded once per process."""
    loaded = jieba.Tokenizer()
    loaded.initialize()
    return loaded.FREQ, loaded.total


_dictionary_lock = threading.Lock()
_keep_spare = True


@contextmanager
def no_spare_dictionary() -> Iterator[None]:
    """Tokenizers built within take jieba's loaded dictionary itself (or load one) and keep no
    spare copy for later tokenizers: for a server, which builds one tokenizer at start and none
    after (~15 MB less, at start and after)."""
    global _keep_spare
    _keep_spare = False
    try:
        yield
    finally:
        _keep_spare = True


def _new_jieba() -> jieba.Tokenizer:
    """A jieba tokenizer of its own (domain words are added to it) on the default dictionary.

    Loading that dictionary costs ~0.7 s of CPU and ~68 MB per tokenizer: a process loads it
    once and later tokenizers copy the table (~15 ms, ~15 MB; the words themselves are shared).
    Segmentation reads only these two attributes, so it is the same as with a fresh load.
    """
    with _dictionary_lock:
        freq, total = _default_dictionary()
        if _keep_spare:
            freq = dict(freq)
        else:
            _default_dictionary.cache_clear()  # this tokenizer owns the table now
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = freq, total
    tokenizer.initialized = True
    return tokenizer


def _whole(term: str) -> str:
    """A gazetteer term as a pattern: a term of digits or Latin letters only matches as a whole
    token (12345 is not found inside an order number), a Chinese one anywhere."""
    if re.fullmatch(r"[0-9a-z]+", term):
        return rf"(?<![0-9a-z]){re.escape(term)}(?![0-9a-z])"
    return re.escape(term)


class SynonymRewriter:
    """Replace synonym variants by their canonical word, longest variant first."""

    def __init__(self, synonyms: dict[str, str]) -> None:
        variants = sorted((v for v in synonyms if v and v != synonyms[v]), key=len, reverse=True)
        self._map = synonyms
        self._pattern = re.compile("|".join(re.escape(v) for v in variants)) if variants else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._map[m.group(0)], text)


class Tokenizer:
    """Feature tokens for one normalised text (see the module docstring)."""

    def __init__(
        self, synonyms: dict[str, str], domain_terms: list[str], gazetteers: dict[str, list[str]] | None = None
    ) -> None:
        gazetteers = {name: sorted(set(terms)) for name, terms in (gazetteers or {}).items()}
        self._source = (dict(synonyms), sorted(set(domain_terms)), gazetteers)
        # Matched on the normalised text before the synonym rewrite (names are not rewritten).
        self._gazetteers = [
            (f"g:{name}", re.compile("|".join(_whole(t) for t in sorted(terms, key=len, reverse=True))))
            for name, terms in sorted(gazetteers.items())
            if terms
        ]
        self.rewrite = SynonymRewriter(synonyms)
        # jieba logs its dictionary loading at INFO; keep the CLI output clean. Set here, when a
        # tokenizer is made, not at import: importing a module changes no logging.
        jieba.setLogLevel(logging.WARNING)
        self._jieba = _new_jieba()
        # Canonical synonym targets and domain terms are whole words for segmentation.
        names = {t for terms in gazetteers.values() for t in terms}
        for word in set(domain_terms) | set(synonyms.values()) | names:
            if len(word) > 1:
                self._jieba.add_word(word, freq=20000)
        self._cache: dict[str, list[str]] = {}
        self._word_cache: dict[str, list[str]] = {}
        self._search_cache: dict[str, list[str]] = {}
        # jieba's segmentation of the rewritten text, shared by `words` and `search_words` (one
        # message is asked for both, one after the other).
        self._segmented = lru_cache(maxsize=SEGMENTATIONS_REMEMBERED)(self._segment)

    def _segment(self, text: str) -> tuple[str, ...]:
        return tuple(self._jieba.cut(self.rewrite(text), HMM=True))

    def forget(self) -> None:
        """Drop every remembered text (benchmarks measure a text not seen before)."""
        for cache in (self._cache, self._word_cache, self._search_cache):
            cache.clear()
        self._segmented.cache_clear()

    def built_from(
        self, synonyms: dict[str, str], domain_terms: list[str], gazetteers: dict[str, list[str]] | None = None
    ) -> bool:
        """Whether this tokenizer gives the tokens one built from these synonyms, terms and
        gazetteers would."""
        tables = {name: sorted(set(terms)) for name, terms in (gazetteers or {}).items()}
        return self._source == (dict(synonyms), sorted(set(domain_terms)), tables)

    def gazetteer_tokens(self, text: str) -> list[str]:
        """`g:<name>` for every gazetteer the normalised text names something of."""
        return [feature for feature, pattern in self._gazetteers if pattern.search(text)]

    def words(self, text: str) -> list[str]:
        """jieba words of the rewritten text, without punctuation; numbers become '<num>'.

        Cached: one message is segmented by the classifier features, several FAQ signals and the
        FAQ hit explanation; jieba is the costly part of each."""
        cached = self._word_cache.get(text)
        if cached is not None:
            return cached
        found = ["<num>" if _DIGITS.fullmatch(w) else w for w in self._segmented(text) if w.strip() and w not in _PUNCT]
        if len(self._word_cache) > 50_000:  # bounded, as the token cache
            self._word_cache.clear()
        self._word_cache[text] = found
        return found

    def search_words(self, text: str) -> list[str]:
        """jieba's search-engine segmentation of the rewritten text: every word, and also the
        dictionary words inside a long one (人工客服 gives 人工, 客服 and 人工客服), so a question
        that says 客服 meets a wording that says 人工客服. Numbers become '<num>'; cached."""
        cached = self._search_cache.get(text)
        if cached is not None:
            return cached
        # jieba's cut_for_search, on the segmentation `words` made: each word is preceded by
        # the dictionary's 2- and then 3-character words inside it (the same list, one cut less).
        freq = self._jieba.FREQ
        searched: list[str] = []
        for word in self._segmented(text):
            size = len(word)
            if size > 2:
                searched += [gram for gram in (word[i : i + 2] for i in range(size - 1)) if freq.get(gram)]
                if size > 3:
                    searched += [gram for gram in (word[i : i + 3] for i in range(size - 2)) if freq.get(gram)]
            searched.append(word)
        found = ["<num>" if _DIGITS.fullmatch(w) else w for w in searched if w.strip() and w not in _PUNCT]
        if len(self._search_cache) > 50_000:
            self._search_cache.clear()
        self._search_cache[text] = found
        return found

    def chars(self, text: str) -> list[str]:
        """Characters of the rewritten text, without punctuation or spaces; digits become '0'."""
        return _chars_of(self.rewrite(text))

    def chars_with_variants(self, text: str) -> list[str]:
        """`chars`, plus the characters of the original text that the synonym rewrite dropped.

        The rewrite merges a variant into a broader word (登录密码 -> 密码), which helps the
        intent classifier, but between two FAQ entries the dropped part (登录 against 支付) is
        what tells them apart; typos (冲值) still meet their correct spelling through `chars`."""
        rewritten_text = self.rewrite(text)
        rewritten = _chars_of(rewritten_text)
        if rewritten_text == text:  # most texts: nothing rewritten, nothing dropped
            return rewritten
        dropped = Counter(_chars_of(text)) - Counter(rewritten)
        return rewritten + list(dropped.elements())

    def tokens(self, text: str) -> list[str]:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        chars = self.chars(text)
        out = [f"c:{c}" for c in chars]
        out += [f"b:{a}{b}" for a, b in zip(chars, chars[1:])]
        words = self.words(text)
        out += [f"w:{w}" for w in words]
        han_words = [w for w in words if _HAN.search(w)]
        out += [f"p:{_pinyin(w)}" for w in han_words]
        han_chars = [c for c in chars if "\u4e00" <= c <= "\u9fff"]  # _HAN.match for one character
        syllables = [_pinyin(c) for c in han_chars]
        out += [f"pb:{a}_{b}" for a, b in zip(syllables, syllables[1:])]
        out += self.gazetteer_tokens(text)
        if len(self._cache) > 50_000:  # bounded: a long-running server sees endless new texts
            self._cache.clear()
        self._cache[text] = out
        return out


def _chars_of(text: str) -> list[str]:
    """Characters of a text, without punctuation or spaces; digits become '0'."""
    return [c for c in _DIGITS.sub("0", text) if c not in _PUNCT and not c.isspace()]


@lru_cache(maxsize=100_000)
def _pinyin(text: str) -> str:
    return "_".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore"))


class TfidfVectorizer:
    """Sublinear TF-IDF with L2 normalisation over a fixed vocabulary.

    Written out instead of using scikit-learn's so the fitted state is two plain arrays that can
    be saved as JSON + .npz and loaded without unpickling anything.
    """

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)

    @classmethod
    def fit(cls, documents: list[list[str]], min_df: int = 1) -> TfidfVectorizer:
        df: Counter[str] = Counter()
        for tokens in documents:
            df.update(set(tokens))
        vocab_tokens = sorted(t for t, n in df.items() if n >= min_df)
        vocabulary = {t: i for i, t in enumerate(vocab_tokens)}
        n_docs = len(documents)
        idf = np.array([np.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in vocab_tokens], dtype=np.float32)
        return cls(vocabulary, idf)

    def vector(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """One document as (feature indices, L2-normalised weights): the fast path for one message."""
        # Counted in C (no generator); unknown tokens count under None, dropped after. The
        # features keep the order of their first occurrence, as the weights' sums depend on it.
        counts = Counter(map(self.vocabulary.get, tokens))
        counts.pop(None, None)
        if not counts:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        indices = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        weights = (1.0 + np.log(tf)) * self.idf[indices]
        norm = float(np.sqrt(weights.dot(weights)))  # np.linalg.norm's own formula, without its checks
        return indices, (weights / norm if norm else weights)

    def transform(self, documents: list[list[str]]) -> sparse.csr_matrix:
        indptr = [0]
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for tokens in documents:
            idx, weights = self.vector(tokens)
            order = np.argsort(idx)
            indices.append(idx[order])
            values.append(weights[order])
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, dtype=np.float32),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
                np.array(indptr, dtype=np.int32),
            ),
            shape=(len(documents), len(self.vocabulary)),
        )
