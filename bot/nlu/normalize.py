"""Text normalisation: the first thing done to every message, before guard, NLU and FAQ.

Users type full-width digits (１００元), Traditional characters (忘記密碼), mixed case Latin and
runs of punctuation (！！！). All of it is folded into one canonical form. The folding keeps an
index map back to the original text so entity spans can be reported against what the user typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

_WHITESPACE = re.compile(r"\s+")
_REPEATED_PUNCT = re.compile(r"([!?.,。，！？、~～…])\1+")
# Characters that carry no meaning for understanding (zero-width, BOM, control characters).
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class Normalized:
    """`text` is the normalised string; `origin[i]` is the index in the original of text[i]."""

    text: str
    origin: tuple[int, ...]

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text."""
        if not self.origin:
            return 0, 0
        begin = self.origin[start] if start < len(self.origin) else self.origin[-1] + 1
        finish = self.origin[end - 1] + 1 if end > 0 else begin
        return begin, finish


def _fold_char(ch: str) -> str:
    if ch in _INVISIBLE or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"):
        return ""
    return unicodedata.normalize("NFKC", ch).lower()


def normalize_aligned(text: str) -> Normalized:
    """NFKC, lower case, Traditional to Simplified, whitespace collapsed, with an index map."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for folded in _fold_char(ch):
            chars.append(folded)
            origin.append(index)
    folded_text = "".join(chars)
    simplified = _converter().convert(folded_text)
    if len(simplified) != len(folded_text):  # phrase conversions that change length: go char by char
        simplified = "".join(_converter().convert(c) or c for c in folded_text)
    # Collapse whitespace and repeated punctuation while keeping the map aligned.
    out: list[str] = []
    out_origin: list[int] = []
    previous = ""
    for ch, src in zip(simplified, origin):
        if ch.isspace():
            if not out or out[-1] == " ":
                continue
            ch = " "
        elif ch == previous and ch in "!?.,。，！？、~～…":
            continue
        out.append(ch)
        out_origin.append(src)
        previous = ch
    while out and out[-1] == " ":
        out.pop()
        out_origin.pop()
    return Normalized("".join(out), tuple(out_origin))


# Distinct strings whose normalised form is remembered (a few MB at most).
NORMALIZED_REMEMBERED = 8192


@lru_cache(maxsize=NORMALIZED_REMEMBERED)
def normalize(text: str) -> str:
    """The normalised form of `text` (see normalize_aligned), folded once per distinct string.

    One message's (redacted) text is read by the policy, the reply reader and the escalation,
    and the content's words and button titles are compared with it on every message: the
    memo makes each of those a look-up. Text that may still hold a secret (a password the
    guard has not hidden yet) goes through `normalize_unremembered` instead.
    """
    return normalize_unremembered(text)


def normalize_unremembered(text: str) -> str:
    """`normalize` without the memo, for text that must not stay in memory (raw user input)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = "".join(ch for ch in folded if ch not in _INVISIBLE)
    simplified = _converter().convert(folded)
    simplified = _REPEATED_PUNCT.sub(r"\1", simplified)
    return _WHITESPACE.sub(" ", simplified).strip()
