"""One realistic conversation per flow where the user types every answer and presses no button.

Each walk goes through the real engine (NLU, policy, flows, store) and checks where it ends: a
resolved leaf, or a ticket with the leaf's category and priority and the details the user typed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.engine import Assistant
from bot.store import Ticket
from bot.store.tickets import get_ticket


def walk(chat, turns: list[tuple[str, str | None]]) -> Any:
    """Type each message; after it the conversation must be at the given step (None: no flow)."""
    c = chat()
    for text, step in turns:
        reply = c.say(text)
        assert reply["state"]["step"] == step, (
            f"after {text!r}: at {reply['state']['step']!r}, expected {step!r}\n{c.text()}"
        )
    return c


def ticket_of(assistant: Assistant, c) -> Ticket:
    assert c.state["escalated"] is True, c.text()
    assert c.state["ticket"] in c.text()
    with assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, c.state["ticket"])
        s.expunge(ticket)
    return ticket


def answers(ticket: Ticket) -> dict[str, str]:
    """Checklist step -> what the user typed, from the ticket's trail."""
    return {e["step"]: e["answer"] for e in ticket.trail if e.get("say") is not None and e.get("answer")}


def test_payment_charged_but_unpaid_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("付款一直失败", "payment_info"),
            ("核对过了还是付不了", "restart_app"),
            ("关掉重新打开也不行", "network"),
            ("换了网络还是失败", "daily_limit"),
            ("今天就付了一笔，还是不行", "charged_check"),  # 今天 alone is no time of day: still asked
            ("钱已经扣了，订单还是显示未支付", "charged_unpaid"),
            ("今天中午12点", "charged_unpaid"),
            ("88元", "charged_unpaid"),
            ("订单号是2024061812345678", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("payment_problem", "normal")
    assert ticket.details["amount"] == "88"
    assert ticket.details["order_id"] == "2024061812345678"
    assert ticket.details["time"] == f"{date.today()} 12:00"
    assert [e["step"] for e in ticket.trail if e["step"].startswith("collect:")] == [
        "collect:time",
        "collect:amount",
        "collect:order_id",
    ]
    assert answers(ticket)["charged_check"] == "钱已经扣了，订单还是显示未支付"


def test_account_stolen_with_unknown_transactions_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("我的账号好像被盗了", "can_login"),
            ("还能登录", "secure_now"),
            ("密码改好了，双重验证也开了", "check_records"),
            ("有几笔不是我买的", "fraud_support"),
            ("今天凌晨两点", "fraud_support"),
            ("一共3000元", "fraud_support"),
            ("13812345678", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("account_stolen", "urgent")
    assert ticket.details["amount"] == "3000"
    assert ticket.details["time"].endswith("02:00")
    assert ticket.details["contact"] == "13812345678"
    assert answers(ticket)["check_records"] == "有几笔不是我买的"


def test_account_frozen_with_a_transfer_not_made_by_the_user_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("我的账户被冻结了", "notice"),
            ("看了通知，按提示弄了还是用不了", "activity"),
            ("有一笔不是我本人操作的转账", "suspicious_support"),
            ("昨天晚上十点", "suspicious_support"),
            ("我的邮箱是zhang@example.com", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("account_frozen", "urgent")
    assert ticket.details["time"].endswith("22:00")
    assert ticket.details["contact"] == "zhang@example.com"


def test_refund_not_delivered_and_not_returned_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("买的东西一直没发货，我想退款", "find_record"),  # the opening answers the eligibility question
            ("找到那笔交易了", "apply"),
            ("已经提交了", "wait_time"),
            ("十天了还没到", "delayed"),
            ("查了还是没到账", "to_support"),
            ("订单号是TB20240618001", "to_support"),
            ("199元", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("refund", "normal")
    assert ticket.details["amount"] == "199"
    assert ticket.details["order_id"].upper() == "TB20240618001"
    assert answers(ticket)["eligibility"] == "买的东西一直没发货，我想退款"


def test_limits_not_exceeded_but_refused_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("付款提示超过限额了", "explain"),
            ("每天的那个", "daily"),
            ("没超，就这一笔", "bank"),
            ("问了银行，不是银行的问题", "to_support"),
            ("下午两点", "to_support"),
            ("5000元", "to_support"),
            ("用的银行卡", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("limits", "normal")
    assert ticket.details["amount"] == "5000"
    assert ticket.details["method"] == "银行卡"
    assert ticket.details["time"].endswith("14:00")


def test_balance_wrong_after_every_check_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("余额不对", "record"),
            ("对了一遍，还是对不上", "pending"),
            ("没有处理中的", "refresh"),
            ("更新了还是不对", "to_support"),
            ("昨天下午发现的", "to_support"),
            ("少了100元", None),
        ],
    )
    ticket = ticket_of(assistant, c)
    assert (ticket.category, str(ticket.priority)) == ("balance_issue", "normal")
    assert ticket.details["amount"] == "100"
    assert ticket.details["time"]


def test_balance_with_a_pending_withdrawal_resolves_typed(chat, assistant):
    c = walk(
        chat,
        [
            ("我的余额对不上", "record"),
            ("核对了，对不上", "pending"),
            ("有一笔提现还在处理中", None),
        ],
    )
    assert c.state["escalated"] is False
    assert "处理中的交易完成后余额才会更新" in c.text()
    assert [b["payload"] for b in c.buttons()] == ["/helpful", "/not_helpful"]
