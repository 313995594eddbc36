"""Reply kinds: what a typed answer to a checklist step says, learnt from `data/replies/`.

A step asks one thing ("网络正常吗？"). "网络没问题啊" says the checked thing is fine, not that the
problem is gone; "你是不是傻" is no answer at all, although it holds the "no" word 不是. Yes/no
words inside a sentence cannot tell these apart, so a second classifier (the intent classifier's
own machinery, trained on labelled replies) reads each typed answer into one of REPLY_KINDS and
the dialogue maps the kind to the step's options (`kinds:` in data/flows).

`other` (a question, a new problem, small talk) is learnt from the replies marked `other` plus a
sample of the NLU examples of every intent that is not itself a yes/no answer, so a new topic
typed at a step is recognised as not being an answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.nlu.training_data import Origins, TrainingData, fingerprint_files, nlu_files, read_nlu_file
from bot.yamlio import Problem

REPLIES_SUBDIR = "replies"
REPLY_KINDS: tuple[str, ...] = (
    "solved",
    "fine",
    "failing",
    "cause",
    "cannot",  # answers to what the step asked
    "how_long",
    "frustration",
    "complaint",
    "give_up",
    "repeat",
    "retract",
    "correct",  # moves in the conversation
    "other",  # not an answer: a question, another problem, small talk
)
ANSWER_KINDS = ("solved", "fine", "failing", "cause", "cannot")
# NLU intents whose examples are answers (好的, 不是) rather than `other`.
_ANSWER_INTENTS = frozenset({"affirm", "deny"})
# NLU examples holding one of these words (`lookup: duration_words` in data/replies) ask how
# long something takes: they are `how_long` replies, never sampled as `other`.
DURATION_LOOKUP = "duration_words"
OTHER_PER_INTENT = 4


def reply_files(data_dir: Path) -> list[Path]:
    return nlu_files(data_dir, REPLIES_SUBDIR)


def reply_fingerprint(data_dir: Path) -> str:
    """The reply model depends on data/nlu too (its `other` sample)."""
    return fingerprint_files(nlu_files(data_dir) + reply_files(data_dir))


def load_reply_data(data_dir: Path, root: Path | None, nlu: TrainingData) -> tuple[TrainingData, list[Problem]]:
    """The labelled replies, plus `other` examples sampled evenly from `nlu`; never raises."""
    data = TrainingData(synonyms=dict(nlu.synonyms), lookups={k: list(v) for k, v in nlu.lookups.items()})
    problems: list[Problem] = []
    origins: Origins = {}
    for path in reply_files(data_dir):
        display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        read_nlu_file(path, display, data, problems, origins, labels=REPLY_KINDS)
    labelled = {text for text, _ in data.examples}
    duration = [w for w in data.lookups.get(DURATION_LOOKUP, []) if w]
    by_intent: dict[str, list[str]] = {}
    for text, intent in nlu.examples:
        if intent not in _ANSWER_INTENTS and text not in labelled and not any(w in text for w in duration):
            by_intent.setdefault(intent, []).append(text)
    for _intent, texts in sorted(by_intent.items()):
        # By a stable hash, not by position: an example added to data/nlu changes the sample only
        # if it joins it, instead of shifting every pick of its intent (and replies far from it).
        picked = sorted(texts, key=lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())[:OTHER_PER_INTENT]
        data.examples.extend((text, "other") for text in picked)
    data.fingerprint = reply_fingerprint(data_dir)
    return data, problems
