"""The scam alarm on ordinary security questions: precision on benign messages, recall kept.

tests/data/benign_security.yml: 165 calm questions about security and account use (strong
passwords, 2FA, public Wi-Fi, phishing, "does real support ask for my code?") that must not
raise the fraud warning, and 45 messages from people inside a scam. Written from the guides by
someone who had not seen the scam patterns. The `questions:` patterns of
data/safety/scam_patterns.yml were added after seeing 4 false alarms on this list, so it is no
longer blind; the scam corpus of tests/data/guard_corpus.yml (44 scam rows) guards recall.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from engine_fixtures import CONFIG

from bot.config import load_settings
from bot.content import load_content
from bot.safety.scam import detect_scam

DATA = Path(__file__).parent / "data"
PATTERNS = load_content(load_settings(CONFIG), lint=False).scam_patterns
BENIGN = yaml.safe_load((DATA / "benign_security.yml").read_text(encoding="utf-8"))


def test_ordinary_security_questions_raise_no_alarm():
    messages = [row["text"] for row in BENIGN["messages"]]
    assert len(messages) >= 100
    alarms = [text for text in messages if detect_scam(text, PATTERNS)]
    precision = 1 - len(alarms) / len(messages)
    assert precision >= 0.99, alarms


def test_a_question_does_not_hide_a_scam_in_progress():
    """The look-ahead of the question patterns: someone reporting what was asked of them."""
    for text in (
        "客服让我转到安全账户是什么意思",
        "对方让我开屏幕共享，正规客服会这样吗",
        "他让我开屏幕共享，是不是骗局",
    ):
        assert detect_scam(text, PATTERNS) is not None, text


def test_scams_of_the_benign_lists_second_half_are_caught_at_least_as_before():
    caught = [row["text"] for row in BENIGN["scams"] if detect_scam(row["text"], PATTERNS)]
    assert len(caught) >= 22  # 22 of 45 before the question patterns: recall must not drop
