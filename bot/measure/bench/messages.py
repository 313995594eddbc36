"""The messages a benchmark sends: training examples and FAQ wordings with the variations users type,
templated paraphrases outside the training data, and whole conversations (an opening, then typed
answers to that flow's checklist steps). Deterministic for a seed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

from bot.measure import MeasureError

if TYPE_CHECKING:
    from bot.content import Content


# A conversation: its opening message (which creates it, as in the bubble), then typed answers.
MESSAGES_PER_CONVERSATION = 6
# Typed answers to checklist steps, per flow (the replies evaluation's file in data/).
STEP_ANSWERS = Path("eval") / "step_answers.tsv"
_PREFIXES = (
    "",
    "",
    "",
    "",
    "你好，",
    "您好，",
    "请问",
    "请问一下，",
    "客服，",
    "在吗？",
    "急！",
    "那个，",
    "我想问下，",
)
_SUFFIXES = ("", "", "", "", "？", "。", "怎么办", "怎么回事", "，急", "，谢谢", "啊", "！！！", "呢")
# Wordings in the style of questions users send to payment apps' support (credit products as
# much as wallets), written for this benchmark: they exercise the out-of-scope and clarify paths.
_PRODUCTS = ("花呗", "借呗", "余额宝", "零钱", "银行卡", "信用卡", "钱包", "账户", "红包", "基金", "分期")
_PROBLEMS = (
    "还款失败",
    "付不了款",
    "提现一直不到账",
    "被冻结了",
    "额度怎么提高",
    "怎么解绑",
    "扣了两次钱",
    "退款什么时候到账",
    "显示异常",
    "充值不成功",
    "被限制使用了",
    "的密码忘了",
    "为什么用不了",
    "里的钱少了",
    "怎么开通",
    "提示风险",
    "转账转错了",
)
_FRAMES = (
    "我的{p}{q}",
    "{p}{q}怎么办",
    "为什么{p}{q}",
    "请问{p}{q}吗",
    "{p}{q}，怎么处理",
    "昨天{p}{q}",
    "{p}{q}了，急",
)
_TYPOS = (("充值", "冲值"), ("提现", "体现"), ("账户", "帐户"), ("密码", "密马"))
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def bench_messages(content: Content, count: int, seed: int = 7) -> list[str]:
    """`count` distinct user messages: the training examples and FAQ wordings with the variations
    users type (greetings, trailing particles, Traditional characters, full-width digits,
    homophone typos, amounts, two questions in one), plus templated paraphrases outside the
    training data. Deterministic for a seed."""
    import opencc

    rng = random.Random(seed)
    to_traditional = opencc.OpenCC("s2t")
    bases = [text for text, _ in content.training.examples]
    bases += [text.replace("{brand}", "") for entry in content.faq for text in entry.texts()]
    bases += [frame.format(p=p, q=q) for frame in _FRAMES for p in _PRODUCTS for q in _PROBLEMS]
    bases = [b for b in dict.fromkeys(b.strip() for b in bases) if b]
    if not bases:
        raise MeasureError("No training examples or FAQ entries to build benchmark messages from: check data/.")
    rng.shuffle(bases)
    messages: dict[str, None] = dict.fromkeys(bases[: count // 3])
    attempts = 0
    while len(messages) < count and attempts < count * 50:
        attempts += 1
        text = rng.choice(bases)
        roll = rng.random()
        if roll < 0.08:
            text = text + "，" + rng.choice(bases)
        elif roll < 0.16:
            text = f"{text} {rng.choice((50, 100, 200, 388, 1000, 5000))}元"
        text = rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)
        roll = rng.random()
        if roll < 0.10:
            text = to_traditional.convert(text)
        elif roll < 0.15:
            text = text.translate(_FULL_WIDTH)
        elif roll < 0.22:
            wrong, typo = rng.choice(_TYPOS)
            text = text.replace(wrong, typo)
        messages.setdefault(text)
    result = list(messages)
    rng.shuffle(result)
    return result[:count]


def step_answers(data_dir: Path) -> dict[str, list[str]]:
    """Typed answers to checklist steps by flow, from data/eval/step_answers.tsv (empty if absent)."""
    import csv

    path = data_dir / STEP_ANSWERS
    if not path.is_file():
        return {}
    answers: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get("flow") and (row.get("text") or "").strip():
                answers.setdefault(row["flow"], []).append(row["text"].strip())
    return answers


def bench_conversations(content: Content, data_dir: Path, count: int, seed: int = 7) -> list[list[str]]:
    """`count` conversations of MESSAGES_PER_CONVERSATION messages: an opening (a problem of a
    flow, in the variations of `bench_messages`) and typed answers to that flow's checklist
    steps (data/eval/step_answers.tsv), as a user working through a problem sends them. Every
    third conversation opens with any benchmark message instead (an FAQ question, small talk,
    something out of scope). Deterministic for a seed."""
    rng = random.Random(seed)
    answers = step_answers(data_dir)
    openings = bench_messages(content, count, seed)
    by_intent: dict[str, list[str]] = {}
    for text, intent in content.training.examples:
        if intent in answers:
            by_intent.setdefault(intent, []).append(text)
    flows = sorted(by_intent)
    every_answer = [text for texts in answers.values() for text in texts] or openings
    conversations = []
    for number, opening in enumerate(openings):
        if flows and number % 3:
            flow = rng.choice(flows)
            opening, replies = rng.choice(by_intent[flow]), answers[flow]
        else:
            replies = every_answer
        conversations.append([opening, *(rng.choice(replies) for _ in range(MESSAGES_PER_CONVERSATION - 1))])
    return conversations
