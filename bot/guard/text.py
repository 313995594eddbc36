"""Text folding shared by the guard and the scam detector: one character in, one span out.

Full-width ASCII is folded to half-width character by character (spans stay valid), and the
characters that render as nothing are taken out with a map back to the original positions.
"""

import re
from types import MappingProxyType

# Full-width ASCII (＠, １２３, ＡＢＣ) and the ideographic space map one character to one
# character, so folding them keeps every span valid for the original text.
_FULLWIDTH = MappingProxyType({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20})
# Folding is only needed when a value could be full-width (digits, letters, @ . + - _, the
# ideographic space); Chinese punctuation such as ，and ： is matched as is by the regexes, which
# keeps most messages from paying for a translate().
_HAS_FULLWIDTH = re.compile(r"[\uff0b\uff0d\uff0e\uff10-\uff19\uff20-\uff3a\uff3f\uff41-\uff5a\u3000]")


# Characters that render as nothing: the soft hyphen, zero-width spaces and joiners, the bidi
# marks, embeddings, overrides and isolates, the word joiner and invisible operators, the BOM.
# Typed, pasted or planted inside a value ("665\u200b544") they split it for every regex below,
# so scan() matches on the text without them and maps the spans back: a finding then covers the
# invisible characters inside its value, and redaction hides them with it.
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def visible(text: str) -> tuple[str, list[int] | None]:
    """The text without invisible characters, and the original index of each character kept
    (None when there was nothing to remove, the usual case)."""
    if _INVISIBLE.search(text) is None:
        return text, None
    positions = [index for index, char in enumerate(text) if _INVISIBLE.match(char) is None]
    return "".join(text[index] for index in positions), positions


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width, same length, so value regexes need one spelling only."""
    if _HAS_FULLWIDTH.search(text) is None:
        return text
    return text.translate(_FULLWIDTH)


def ci(*words: str) -> str:
    """An alternation matching Latin words in any case ("pwd" → [Pp][Ww][Dd]).

    Why not re.IGNORECASE: with it Python's engine loses its fast literal search and every
    regex below runs several times slower on Chinese text.
    """
    return (
        "(?:"
        + "|".join(
            "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word) for word in words
        )
        + ")"
    )
