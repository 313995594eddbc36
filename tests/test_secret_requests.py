"""The editor-safety check: a bot text that asks for a secret is caught in any phrasing.

tests/data/secret_requests.yml holds 80 bot texts that ask (direct, polite, indirect, mixed
English, a request after a reassurance) and 64 that mention the same words to warn or to
instruct (type the code into the app's own page, never tell anyone). Written from the guides'
advice by someone who had not seen the detector; the detector's rules were then built on it,
so the figures below are a floor for this list, not a blind measurement.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.secret_requests import asks_for_secret

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "secret_requests.yml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_enough():
    assert len(CORPUS["asks"]) >= 50 and len(CORPUS["safe"]) >= 40


@pytest.mark.parametrize("text", [row["text"] for row in CORPUS["asks"]])
def test_a_request_for_a_secret_is_caught(text):
    assert asks_for_secret(text) is not None


@pytest.mark.parametrize("text", [row["text"] for row in CORPUS["safe"]])
def test_a_warning_or_an_instruction_is_not_a_request(text):
    assert asks_for_secret(text) is None


def test_the_asking_clause_is_named():
    assert asks_for_secret("别担心，把密码告诉我就行。") == "把密码告诉我就行"
    assert asks_for_secret("您的卡号后面还有几位，麻烦一起发过来") == "麻烦一起发过来"
