"""Reading a typed answer to a checklist step: the option it picks, or the move it makes.

Three signals, each catching what the others miss:
- the whole reply is a yes/no word (是, 不行, 有): the option that `means` it;
- the reply kind (bot/nlu/replies.py): 网络没问题啊 is `fine`, 好了 is `solved`, 算了 is `give_up`;
  each option lists the kinds it stands for (`kinds:` in data/flows, by default from `means`);
- the option's own `match` words (不是我操作的 picks "有异常"), which count only as far as the
  reply kind does not contradict them (没有任何冻结提示 holds 冻结 but says `fine`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.flows.model import Option, Step
from bot.nlu.normalize import normalize

# Reply kinds that are a move in the conversation rather than an answer to the step.
MOVES = frozenset({"how_long", "frustration", "complaint", "give_up", "repeat", "retract", "correct"})
# Below these probabilities a reply kind does not decide on its own.
MOVE_CONFIDENCE = 0.5
ANSWER_CONFIDENCE = 0.45
SOLVED_CONFIDENCE = 0.6
# A reply that is not clearly something else still answers the step if it leans this much.
WEAK_ANSWER = 0.25
# Reply kinds that say the reply is no answer to the step (with another problem in it, it leaves).
NOT_ANSWERS = ("other", "give_up", "how_long", "correct")
# Frustration and complaints get an apology and the step again, which costs little when wrong:
# as the likeliest kind they need less certainty than other moves.
MOODS = frozenset({"frustration", "complaint"})
MOOD_CONFIDENCE = 0.35
# A reply kind this sure outweighs an option's words that stand for another kind.
SURE_KIND = 0.9
# What an option's own match word adds to its share of the reply kinds: as much as a sure kind, so
# that the author's words (提现成功 listed as "not arrived") outweigh any reading short of sure
# (记录里写的是成功 已经两天了 read 0.7 "solved").
KEYWORD_WEIGHT = SURE_KIND
# A label the step quotes (点击“忘记密码”): a reply that echoes it names the label, it does not
# report forgetting; the label is read out of the reply before its kind is read.
QUOTED_LABEL = re.compile(r"[“「『\"]([^”」』\"]{2,16})[”」』\"]")


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reply does at a step: pick `option`, or make `move` (a MOVES kind, `solved` with no
    option for it, `cause` or `cannot` with no option for them, or `other`: not an answer)."""

    kind: str
    confidence: float
    option: Option | None = None
    move: str | None = None
    # With move "other": the option the reply leans to, if it leans at all (a weak answer).
    leaning: Option | None = None
    # The reply named an option itself: its whole title, a yes/no word, or the option's words.
    named: bool = False
    ranking: tuple[tuple[str, float], ...] = ()


def read_answer(
    step: Step, bare: str, ranking: list[tuple[str, float]], yes_no: str | None, keyword: Option | None
) -> Reading:
    """Decide what the reply `bare` (normalised, no punctuation) does at `step`.

    `ranking` is the reply-kind ranking, `yes_no` the reply read as a whole yes/no word (or
    None), `keyword` the option whose match words the reply holds (or None).
    """
    kind, confidence = ranking[0] if ranking else ("other", 0.0)
    share = dict(ranking)
    if keyword is not None and keyword.kinds and kind not in keyword.kinds and confidence >= SURE_KIND:
        # 我看不懂是扣了还是没扣 holds 扣了, but surely says "I cannot tell": the words do not apply.
        keyword = None
    named = yes_no is not None or keyword is not None
    ranked = tuple(ranking)
    if yes_no:
        meant = next((o for o in step.options if o.means == yes_no), None)
        if meant:
            return Reading(kind, confidence, option=meant, named=named, ranking=ranked)

    def score(option: Option) -> float:
        if option is keyword and not option.kinds:
            return 1.0  # the only signal the option has: its author's words
        value = sum(share.get(k, 0.0) for k in option.kinds)
        return value + KEYWORD_WEIGHT if option is keyword else value

    keyword_share = (
        sum(share.get(k, 0.0) for k in keyword.kinds) if keyword and keyword.kinds else (1.0 if keyword else 0.0)
    )
    if kind in MOVES and confidence >= MOVE_CONFIDENCE and keyword_share < 0.25:
        return Reading(kind, confidence, move=kind, named=named, ranking=ranked)
    best = (
        max(step.options, key=lambda o: (score(o), o is keyword)) if step.options else None
    )  # a tie goes to the option's own words
    if best is not None and score(best) >= ANSWER_CONFIDENCE:
        return Reading(kind, confidence, option=best, named=named, ranking=ranked)
    if kind == "solved" and confidence >= SOLVED_CONFIDENCE:
        return Reading(kind, confidence, move="solved", named=named, ranking=ranked)
    if kind in ("cause", "cannot") and confidence >= ANSWER_CONFIDENCE:
        return Reading(kind, confidence, move=kind, named=named, ranking=ranked)
    if kind in MOVES and confidence >= (MOOD_CONFIDENCE if kind in MOODS else MOVE_CONFIDENCE):
        return Reading(kind, confidence, move=kind, named=named, ranking=ranked)
    # Lean to an option only when the reply's likeliest kind is an answer at all.
    leaning = best if best is not None and kind != "other" and score(best) >= WEAK_ANSWER else None
    return Reading(kind, confidence, move="other", leaning=leaning, named=named, ranking=ranked)


def without_echoed_labels(step: Step, bare: str) -> str:
    """`bare` without the labels the step's question quotes, unless nothing else would be left."""
    texts = [] if step.say is None else [step.say] if isinstance(step.say, str) else list(step.say.values())
    rest = bare
    for label in {normalize(m) for t in texts for m in QUOTED_LABEL.findall(t)}:
        rest = rest.replace(label, "")
    return rest if len(rest) >= 2 else bare


def keyword_option(
    step: Step, bare: str, ignore: Callable[[str], bool] = lambda _w: False, negations: frozenset[str] = frozenset()
) -> Option | None:
    """The option whose `match` words (or whole title) the reply holds most of, if any."""
    scores = keyword_scores(step, bare, ignore, negations)
    if scores:
        return max(scores, key=lambda pair: pair[0])[1]
    return None


def _said(word: str, bare: str, negations: frozenset[str]) -> bool:
    """`word` occurs in `bare` somewhere not right after one of `negations` (不是我自己转的)."""
    at = bare.find(word)
    while at >= 0:
        if not any(bare.endswith(n, 0, at) for n in negations):
            return True
        at = bare.find(word, at + 1)
    return False


def keyword_scores(
    step: Step, bare: str, ignore: Callable[[str], bool] = lambda _w: False, negations: frozenset[str] = frozenset()
) -> list[tuple[int, Option]]:
    """Options whose `match` words occur in `bare`, each with the total length of its words found,
    in option order (so `max` prefers the earlier option on a tie).

    A word inside a longer matched word (异常 in 没有异常, 能登录 in 不能登录) does not count on its
    own, and the option with most matched text wins: 已提交十天了还没到 is about the delay. A word
    right after one of `negations` does not count there (不是我自己转的 does not say 是我自己转的).
    """
    found = [
        (normalize(w), o)
        for o in step.options
        for w in dict.fromkeys(o.match)
        if w and _said(normalize(w), bare, negations) and not ignore(normalize(w))
    ]
    words = {w for w, _ in found}
    scores: dict[str, list[Any]] = {}  # payload -> [letters matched, option]
    for word, option in found:
        if any(len(other) > len(word) and word in other for other in words):
            continue
        scores.setdefault(option.payload, [0, option])[0] += len(word)
    return [(score, option) for score, option in scores.values()]
