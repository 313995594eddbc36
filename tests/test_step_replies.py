"""bot/dialogue/step_reading.py: the parts of a reply at a step read without the model."""

from __future__ import annotations

from bot.dialogue.step_reading import negated_part


def test_the_negated_part_of_a_correction_runs_to_a_pause_or_an_affirmation_word():
    negated = negated_part(["不是"], ["是"])
    assert negated is not None
    assert negated.sub(" ", "说错了，是提现不是充值") == "说错了，是提现 "
    assert negated.sub(" ", "不是充值是提现") == " 是提现"
    assert negated.sub(" ", "不是充值的问题 我要提现") == "  我要提现"


def test_without_negation_words_nothing_is_negated():
    assert negated_part([], ["是"]) is None
    assert negated_part([""], []) is None
    to_a_pause = negated_part(["不是"], [])
    assert to_a_pause is not None and to_a_pause.sub(" ", "不是充值是提现，我要提现") == " ，我要提现"
