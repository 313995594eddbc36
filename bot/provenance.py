"""The provenance check: facts in bot texts must come from the guides or the config.

A support bot that states a wrong time frame or an invented menu path does more harm than one
that says "please ask support". Time spans, amounts, counts and quoted labels (“提现”) are the
facts a reader acts on, and they can be checked mechanically against `data/guides/*.txt`, the
brand values of `config.yml`, and the bot's own words (button titles, the words it tells users
to type, the scam terms it warns about). An example (例如：100元) is not a fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bot.config import Settings
from bot.faq.knowledge import FaqEntry
from bot.flows.model import Flow
from bot.text import variants
from bot.yamlio import Problem

GUIDES_DIR = "guides"
QUOTED = re.compile(r"“([^“”{}]{1,20})”")
SPAN = re.compile(
    r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十百千万几]+)\s*(?:个)?(分钟|小时|工作日|天|周|星期|个月|年|元|块钱|块|位数|位|次|笔|%|％)"
)
EXAMPLE = re.compile(r"(例如|比如|如)[：:]?[^。）)]*")
ARTICLE = re.compile(r"^[一几]\s*(?:个)?(笔|次)$")  # 每一笔交易, 再试一次: an article, not a count


def read_guides(data_dir: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((data_dir / GUIDES_DIR).glob("*.txt")))


def unsourced(text: str, known: str, terms: set[str]) -> list[str]:
    """The facts of `text` found neither in `known` (guides and config) nor among `terms`."""
    plain = EXAMPLE.sub("", text)
    # A label must be quoted as a label in a guide: 提现 is a guide word, “提现” a menu entry none names.
    found = [m.group(1) for m in QUOTED.finditer(plain) if m.group(1) not in terms and m.group(0) not in known]
    found += [m.group(0) for m in SPAN.finditer(plain) if not ARTICLE.match(m.group(0)) and m.group(0) not in known]
    return found


def _bot_texts(flows: Iterable[Flow], faq: Iterable[FaqEntry], responses: dict) -> Iterable[tuple[str, int, str, str]]:
    """(file, line, what, text) of every text the bot says."""
    for flow in flows:
        for detail in flow.details.values():
            for text in variants(detail.prompt):
                yield flow.file, flow.line, f"prompt of detail '{detail.name}'", text
        if flow.how_long is not None:
            for text in variants(flow.how_long):
                yield flow.file, flow.line, "how_long", text
        for step in flow.steps.values():
            for value in (step.say, step.resolved, step.ends):
                for text in variants(value) if value is not None else []:
                    yield flow.file, step.line, f"step '{step.id}'", text
    for entry in faq:
        for text in variants(entry.answer):
            yield entry.file, entry.line, f"answer of FAQ '{entry.id}'", text
    for key, value in responses.items():
        for text in variants(value):
            yield "data/responses.yml", 1, f"response '{key}'", text


def check_provenance(
    flows: Iterable[Flow],
    faq: Iterable[FaqEntry],
    responses: dict,
    words: set[str],
    settings: Settings,
    problems: list[Problem],
) -> None:
    """Report each bot text stating a span, amount, count or quoted label no guide or config value gives.

    `words`: the bot's own vocabulary (button titles, answer words, scam terms), which it may quote.
    """
    guides = read_guides(settings.data_dir)
    if not guides:
        problems.append(
            Problem(
                f"data/{GUIDES_DIR}",
                1,
                "no source guides (*.txt): the provenance of facts cannot be checked",
                "warning",
                code="no_guides",
            )
        )
        return
    config_values = " ".join(str(v) for brand in settings.brands.values() for v in brand.model_dump().values())
    known = guides + "\n" + config_values
    for file, line, what, text in _bot_texts(flows, faq, responses):
        for fact in unsourced(text, known, words):
            problems.append(
                Problem(
                    file,
                    line,
                    f"{what} states “{fact}”, which no guide in data/{GUIDES_DIR}/ and no config.yml value gives; "
                    "use the guide's own words, or put a deployment's fact in config.yml",
                    code="unsourced_fact",
                )
            )
