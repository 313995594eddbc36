"""data/safety/compromise.yml: what reads as someone else in the account, and what does not."""

import pathlib

import pytest

from bot.safety.scam import detect_scam, load_scam_patterns

RULES = load_scam_patterns(pathlib.Path(__file__).resolve().parents[1] / "data" / "safety" / "compromise.yml")


@pytest.mark.parametrize(
    "text",
    [
        "刚看账单 有一笔888的消费 我从来没买过",
        "手机收到提醒 说我的账号在陌生设备上登录了",
        "钱包里有两笔转账 收款人我根本不认识",
        "有人把我的绑定手机换了 我压根没改过",
        "这笔扣款不是我本人操作的",
        "半夜被扣了两笔 那时候我在睡觉",
        "余额少了 一查是提现到了一张我不认识的银行卡",
        "记录里有两笔转给一个姓王的 我根本不认识这个人",
    ],
)
def test_a_transaction_or_change_the_user_did_not_make_is_a_compromise(text: str) -> None:
    signal = detect_scam(text, RULES)
    assert signal is not None and signal.kind == "account_stolen"


@pytest.mark.parametrize(
    "text",
    [
        "付款失败了 但这不是我的问题吧",
        "我没付成功 钱也没扣",
        "我没买东西 就是充值一直失败",
        "平时要怎么防止账号被盗",
        "会不会是因为我换了新手机登录",
        "记录我看了 每一笔都是我自己的",
        "不是我说 这个app也太难用了",
        "流水我翻过了 没发现什么陌生的交易 密码也一直没改过",
        "近期的消费都是我自己付的 就是账户突然被限制了",
    ],
)
def test_own_activity_questions_and_complaints_are_not(text: str) -> None:
    assert detect_scam(text, RULES) is None


def test_charges_that_appeared_from_nowhere_are_a_compromise() -> None:
    signal = detect_scam("账单里凭空冒出来两笔外卖消费", RULES)
    assert signal is not None and signal.kind == "account_stolen"
    assert detect_scam("付款时页面冒出来一个提示 说失败了", RULES) is None
