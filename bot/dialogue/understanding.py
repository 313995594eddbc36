"""Reading what a typed message says besides its intent: a yes or a no, a skip, going on, whether
an answer helped, a question, an outburst, a contact detail.

The base of the Policy's other parts: it uses only the policy's word lists (`answers:` in
data/responses.yml), its extractor and its reply reader, and calls nothing else of the policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOODS, MOVE_CONFIDENCE, SURE_KIND
from bot.dialogue.turn import PAYLOAD_HUMAN, PUNCT, Turn
from bot.flows.model import ANSWER_KINDS
from bot.nlu.normalize import normalize
from bot.safety.scam import denies, detect_scam

if TYPE_CHECKING:
    from bot.content import Content
    from bot.dialogue.turn import ReadReply
    from bot.nlu.entities import EntityExtractor

# The pauses of a message (as a character class): where it breaks into clauses (有病吧，说了网络没问题).
PAUSES = r"，,。；;！!？?\s"
CLAUSE_BREAK = re.compile(f"[{PAUSES}]+")


def clauses_of(text: str) -> list[str]:
    """The clauses of a message, split at its pauses, without those that hold only punctuation."""
    return [c for c in CLAUSE_BREAK.split(text) if PUNCT.sub("", c)]


# A reply kind this probable is an answer even when the NLU also hears an FAQ question in it.
SURE_ANSWER = 0.6
# An outburst that mentions support (什么垃圾客服 能不能快点) is a mood, not a request for a
# person, unless the NLU is at least this sure it asks for one; the apology offers a human anyway.
HANDOFF_OVER_MOOD = 0.8


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first (so 不用 wins over 不)."""
    return "|".join(re.escape(w) for w in sorted(filter(None, words), key=len, reverse=True))


def indefinite_pattern(words: list[str], ends: list[str]) -> re.Pattern[str] | None:
    """什么…都 / 哪里…也 (`answers.indefinite`, `answers.indefinite_ends`): an indefinite ("any"),
    not a question; None when either list is empty."""
    if not words or not ends:
        return None
    heads = alternation(words)
    tails = "".join(re.escape(e) for e in ends)
    return re.compile(f"(?:{heads})[^，,。；;！!？?\\s{tails}]{{0,4}}[{tails}]")


def contrast_pattern(words: list[str], heads: list[str]) -> re.Pattern[str] | None:
    """A word that turns a reply around (`answers.contrast`), or one that does so only at the start
    of a clause (`answers.contrast_heads`: 可, not 可以); None when both lists are empty."""
    parts = []
    if words:
        parts.append(f"(?:{alternation(words)})")
    if heads:
        parts.append(f"(?:^|(?<=[{PAUSES}]))(?:{alternation(heads)})(?![以能])")
    return re.compile("|".join(parts)) if parts else None


def decline_pattern(declines: list[str], requests: list[str], persons: set[str]) -> re.Pattern[str] | None:
    """A refusal, request words only, then a person word (先别急着帮我转人工; data in
    `answers.decline`, `answers.request`, `answers.person`); None when a list is empty."""
    if not declines or not persons:
        return None

    between = f"(?:{alternation(requests)})*" if requests else ""
    return re.compile(f"(?<!还)(?:{alternation(declines)}){between}(?:{alternation(persons)})")


def either_pattern(leads: list[str], either: list[str], either_not: list[str]) -> re.Pattern[str] | None:
    """是 X 还是 Y: a question offering alternatives (退款是退回银行卡还是钱包余额; data in
    `answers.either_lead`, `answers.either`), not 还是不行 (a word of `either_not` right after);
    None when a list is empty."""
    if not leads or not either or not either_not:
        return None
    lead, words, nots = (alternation([normalize(w) for w in ws]) for ws in (leads, either, either_not))
    return re.compile(f"(?:{lead})[^{PAUSES}]{{1,12}}(?:{words})(?!{nots})")


def summon_pattern(summons: list[str], persons: set[str], helps: list[str]) -> re.Pattern[str] | None:
    """Someone summoned to help (让人工帮我, 找个客服来处理; data in `answers.summon`,
    `answers.person`, `answers.person_help`); None when a list is empty."""
    if not summons or not persons or not helps:
        return None

    return re.compile(
        f"(?:{alternation(summons)})(?:个|一个|位|一位)?(?:{alternation(persons)})+.{{0,2}}(?:{alternation(helps)})"
    )


class Understanding:
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    _decline: re.Pattern[str] | None
    _helpful_words: set[str]
    _how: re.Pattern[str] | None
    _indefinite: re.Pattern[str] | None
    _no: set[str]
    _not_helpful_words: set[str]
    _question_words: tuple[str, ...]
    _either: re.Pattern[str] | None
    _done_words: tuple[str, ...]
    _outcome_words: tuple[str, ...]
    _negators: frozenset[str]
    _reproach_words: set[str]
    _summons: re.Pattern[str] | None
    _resume_words: set[str]
    _skip: set[str]
    _yes: set[str]
    extractor: EntityExtractor
    read_reply: ReadReply
    content: Content
    _person_words: set[str]
    _not_person_words: tuple[str, ...]
    _lead_back_words: tuple[str, ...]
    _interjections: str

    def _yes_no(self, bare: str, intent: str, confidence: float) -> str | None:
        whole = self._whole_yes_no(bare)
        if whole:
            return whole
        if self._says_no(bare):
            return "no"
        if any(len(w) > 1 and w in bare for w in self._yes) and len(bare) <= 12:
            return "yes"
        if confidence >= 0.6 and intent in ("affirm", "deny"):
            return "yes" if intent == "affirm" else "no"
        return None

    def _declines_person(self, text: str) -> bool:
        """The message turns a person down (先不转人工了 我再等两天看看): a no, not a request."""
        return self._without_declines(text) != text

    def _without_declines(self, text: str) -> str:
        """`text` without its clauses that turn a person down; what is left says what the user
        does instead (我再等两天看看), and is what answers a step."""
        if self._decline is None:
            return text
        clauses = [c for c in CLAUSE_BREAK.split(text) if c]
        kept = [
            c
            for c in clauses
            if not (self._decline.search(n := normalize(c)) and not any(w in n for w in self._reproach_words))
        ]
        return text if len(kept) == len(clauses) else " ".join(kept)

    def _whole_yes_no(self, bare: str) -> str | None:
        """The reply is nothing but a yes or no word (是 / 不行 / 有): the option that means it."""
        if bare in self._no:
            return "no"
        if bare in self._yes:
            return "yes"
        return None

    def _says_no(self, bare: str) -> bool:
        """The reply is a no word, or holds one of two characters or more (不用继续了)."""
        return bare in self._no or any(len(w) > 1 and w in bare for w in self._no)

    @staticmethod
    def _has_word(bare: str, words: set[str]) -> bool:
        """`bare` is one of `words`, or (short replies only) contains one of two characters or more."""
        return bare in words or (len(bare) <= 12 and any(len(w) > 1 and w in bare for w in words))

    def _helpfulness(self, bare: str) -> bool | None:
        """Feedback on an answer typed as text: 没帮助 / 没用 (False), 有帮助 / 有用 (True), else None.

        "not helpful" is checked first: 没有帮助 contains 有帮助.
        """
        if self._has_word(bare, self._not_helpful_words):
            return False
        if self._has_word(bare, self._helpful_words):
            return True
        return None

    def _means_resume(self, bare: str) -> bool:
        """继续 / 接着来 / 继续吧, and not 不继续 / 不用继续 (any no word in it)."""
        return self._has_word(bare, self._resume_words) and not self._says_no(bare)

    def _sure_answer(self, text: str) -> bool:
        """The reply surely reports how a check went (solved, fine, still failing, a cause)."""
        kind, confidence = self.read_reply(text)[0]
        return kind in ANSWER_KINDS and confidence >= SURE_ANSWER

    def _only_done(self, bare: str) -> bool:
        """The reply reports doing what was said (重启好了, 我切成流量了) and nothing of how it went:
        no `answers.outcome` word (not negated) is left once the `answers.done` words are out."""
        rest = bare
        for word in self._done_words:
            rest = rest.replace(word, "")
        if rest == bare:
            return False
        for word in self._outcome_words:
            at = rest.find(word)
            if at >= 0 and not (at > 0 and rest[at - 1] in self._negators):
                return False
        return True

    def _is_question(self, text: str, norm: str) -> bool:
        """The message asks something (`answers.question` words: 在哪, 多少, 吗…). A question
        word followed closely by 都/也 says "any" (什么原因都没写, 哪里都找不到): no question."""
        plain = self._indefinite.sub("", norm) if self._indefinite is not None else norm
        return (
            any(word in plain for word in self._question_words)
            or (plain == norm and any(word in text for word in self._question_words))
            or (self._either is not None and self._either.search(plain) is not None)
        )

    def _asks_how(self, norm: str) -> bool:
        """The message asks how to do something (那怎么解除啊; `answers.how`), not 怎么还没到
        (`answers.how_not`) nor 怎么试都不行 (an indefinite)."""
        plain = self._indefinite.sub("", norm) if self._indefinite is not None else norm
        return self._how is not None and self._how.search(PUNCT.sub("", plain)) is not None

    def _answers_a_step(self, text: str, norm: str) -> bool:
        """The reply surely reads as a step's answer (余额也够, 网络是好的), not a question, and
        not a bare yes (好的: to "要继续吗？"), a resume word or a word about the answer (有帮助)."""
        bare = PUNCT.sub("", norm)
        if (
            self._whole_yes_no(bare) is not None
            or self._has_word(bare, self._resume_words)
            or self._helpfulness(bare) is not None
        ):
            return False
        kind, confidence = self.read_reply(text)[0]
        return kind in ("fine", "solved", "cause") and confidence >= SURE_ANSWER and not self._is_question(text, norm)

    def _outburst(self, text: str, handoff_confidence: float) -> bool:
        """Frustration or a complaint read surely, with only a weak request for a person in it."""
        if handoff_confidence >= HANDOFF_OVER_MOOD:
            return False
        if self._summons is not None and self._summons.search(normalize(text)):
            return False  # 你们快点找人处理啊: impatient, and someone is summoned to act
        kind, confidence = self.read_reply(text)[0]
        return kind in MOODS and confidence >= SURE_KIND

    def _has_mood(self, text: str) -> bool:
        """A clause of the message surely voices frustration or a complaint (烦不烦, 真耽误事),
        which is acknowledged whatever else the message asks."""
        return any(
            (r := self.read_reply(c)[0])[0] in MOODS and r[1] >= SURE_ANSWER
            for c in CLAUSE_BREAK.split(text)
            if PUNCT.sub("", c)
        )

    def _without_outburst(self, text: str) -> str | None:
        """The message without its outburst clauses, when the rest surely answers a step and the
        whole is not surely a mood (你们这个app能不能靠点谱 气得我血压都上来了: all of it is)."""
        clauses = clauses_of(text)
        if len(clauses) < 2:
            return None
        whole, sure = self.read_reply(text)[0]
        if whole in MOODS and sure >= SURE_KIND:
            return None
        moods = [c for c in clauses if (r := self.read_reply(c)[0])[0] in MOODS and r[1] >= SURE_ANSWER]
        if not moods or len(moods) == len(clauses):
            return None
        rest = "，".join(c for c in clauses if c not in moods)
        kind, confidence = self.read_reply(rest)[0]
        return rest if kind in ANSWER_KINDS and confidence >= SURE_ANSWER else None

    def _skips_detail(self, text: str, bare: str) -> bool:
        """A skip word (跳过, 不知道, 算了) skips the detail asked, unless the reply says more and
        reads as giving up the whole matter (算了 不想退了): that is read as giving up."""
        if not self._has_word(bare, self._skip):
            return False
        if bare in self._skip:
            return True
        kind, confidence = self.read_reply(text)[0]
        return not (kind == "give_up" and confidence >= MOVE_CONFIDENCE)

    def _accepts_human_offer(self, state: dict[str, Any], bare: str) -> bool:
        """A plain yes right after the bot offered a human (and nothing else to say yes to)."""
        offered = [b["payload"] for b in state.get("offered") or []]
        return offered == [PAYLOAD_HUMAN] and not state.get("paused") and bare in self._yes

    def _carries_detail(self, turn: Turn, text: str, *, besides_time: bool = False) -> bool:
        """The message holds a detail the extractor reads (联系我 138…: the number is the answer)."""
        found = self.extractor.extract(normalize(text), now=turn.local_now)
        if besides_time:
            found = [e for e in found if e["entity"] != "time"]
        return bool(found or self._contact_in(turn, text))

    def _contact_in(self, turn: Turn, text: str) -> dict[str, str]:
        """A phone number or email in the message, unmasked for the ticket only."""
        found = self._contact_found(turn, text)
        return {"contact": found[1]} if found else {}

    def _contact_found(self, turn: Turn, text: str) -> tuple[str, str] | None:
        """(phone | email, the unmasked value) of a contact detail in the message, or None."""
        raw = normalize(turn.raw_text or text)
        for entity in ("phone", "email"):
            found = self.extractor.extract_one(entity, raw)
            if found:
                return entity, found["value"]
        return None

    def _denies_compromise(self, text: str, intent: str) -> bool:
        """The message denies every sign of someone else in the account, or only asks how to keep
        them out (`denials` and `questions` of data/safety/compromise.yml), while the classifier
        reads it as that problem."""
        rules = self.content.compromise
        return rules is not None and intent in rules.kinds and denies(text, rules)

    def _compromise(self, text: str) -> str | None:
        """The problem a message is surely about when it tells of a purchase, login or change the
        user did not make (the kind of `data/safety/compromise.yml` it matches), else None."""
        rules = self.content.compromise
        signal = detect_scam(text, rules) if rules is not None else None
        return signal.kind if signal is not None and signal.kind in self.content.flows else None

    def _person_only_in_other_words(self, norm: str) -> bool:
        """Every person word of the message is inside a word that names no person (人工智能,
        人工智障: `answers.not_person`)."""
        if not self._not_person_words or not any(w in norm for w in self._not_person_words):
            return False
        rest = norm
        for word in self._not_person_words:
            rest = rest.replace(word, " ")
        return not any(w in rest for w in self._person_words)

    def _gives_up_alone(self, text: str, norm: str) -> bool:
        """算了 不转了 让他明天再来找我要吧: surely giving up, naming no person to talk to (转 and
        让 make the classifier hear a handoff)."""
        kind, confidence = self.read_reply(text)[0]
        return kind == "give_up" and confidence >= SURE_KIND and not any(w in norm for w in self._person_words)

    def _opens_with(self, norm: str, words: Iterable[str]) -> bool:
        """The message opens with one of `words`, after any sounds before it (哦对了: `answers.interjections`)."""
        opening = norm.lstrip(self._interjections + " ,，")
        return any(opening.startswith(w) for w in words)

    def _after_lead_ins(self, text: str) -> str:
        """`text` without its leading clauses that only acknowledge or lead back (好的, 回到充值的事,
        继续); the text itself when nothing or nothing else is left."""
        clauses = clauses_of(text)
        kept, led_back = list(clauses), False
        while kept:
            bare = PUNCT.sub("", normalize(kept[0]))
            back = any(bare.startswith(w) for w in self._lead_back_words)
            if not back and self._whole_yes_no(bare) != "yes":
                break
            led_back = led_back or back
            kept.pop(0)
        if not kept or len(kept) == len(clauses):
            return text
        rest = " ".join(kept)
        # 好 帮我申请 keeps its yes: only a way back, or an answer after it, makes it a lead-in.
        return rest if led_back or self._answers_a_step(rest, normalize(rest)) else text
