"""Conversations through the real engine (NLU, policy, flows, FAQ, store): every dialogue path."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.engine import Assistant
from bot.errors import ConversationError
from bot.store import Database, Feedback, Ticket
from bot.store.tickets import get_ticket
from pathlib import Path


def ticket_count(assistant: Assistant) -> int:
    with assistant.db.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def load_ticket(assistant: Assistant, number: str) -> Ticket:
    with assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        s.expunge(ticket)
        return ticket


def test_problem_starts_its_flow_with_buttons(chat):
    c = chat()
    reply = c.say("我交易失败了")
    assert reply["state"]["flow"] == "transaction_failed"
    assert reply["state"]["step"] == "kind"
    titles = [b["title"] for b in c.buttons()]
    assert titles[:4] == ["充值", "提现", "支付", "其他交易"]
    assert "转人工" in titles


def test_free_text_choice_and_yes_no_in_context(chat):
    c = chat()
    c.say("交易失败了")
    assert c.say("是充值的时候")["state"]["step"] == "network"
    assert c.say("已经试过了，还是不行")["state"]["step"] == "balance"
    reply = c.say("好了")
    assert reply["state"]["flow"] is None
    assert "太好了" in c.text()
    assert [b["payload"] for b in c.buttons()] == ["/helpful", "/not_helpful"]


def test_every_check_failing_escalates_once_with_details_from_free_text(chat, assistant):
    c = chat()
    c.say("交易失败了")
    c.press_title("充值")
    for _ in range(3):
        reply = c.say("还是不行")
    assert reply["state"]["escalated"] is False
    assert "什么时候" in c.text()
    reply = c.say("昨天下午三点充的100元，用的银行卡")
    assert reply["state"]["escalated"] is True
    number = reply["state"]["ticket"]
    assert number and number in c.text()

    ticket = load_ticket(assistant, number)
    assert ticket.category == "transaction_failed"
    assert ticket.details["amount"] == "100"
    assert ticket.details["method"] == "银行卡"
    assert ticket.details["time"].endswith("15:00")
    steps = [(e["step"], e.get("answer")) for e in ticket.trail if e.get("say")]
    assert ("kind", "充值") in steps or ("kind", None) not in steps
    assert [s for s, _ in steps][:4] == ["kind", "network", "balance", "record"]
    assert all(answer == "还是不行" for step, answer in steps if step in ("network", "balance", "record"))

    again = c.press("/human")
    assert again["state"]["ticket"] == number
    assert number in c.text()
    assert ticket_count(assistant) == 1


def test_faq_question_mid_flow_is_answered_and_the_flow_resumes(chat):
    c = chat()
    c.say("充值失败")
    step = c.last["state"]["step"]
    reply = c.say("你们客服电话是多少")
    assert reply["state"]["faq_id"] is not None
    assert reply["state"]["flow"] is None
    assert "/resume" in [b["payload"] for b in c.buttons()]
    reply = c.press("/resume")
    assert reply["state"]["flow"] == "topup_problem"
    assert reply["state"]["step"] == step


def test_new_problem_mid_flow_switches_flow(chat):
    c = chat()
    c.say("充值失败")
    reply = c.say("算了，我忘记登录密码了怎么办")
    assert reply["state"]["flow"] == "forgot_password"
    assert "忘记密码" in c.text() or "密码" in c.text()


def test_human_request_mid_flow_escalates_with_the_flow_category(chat, assistant):
    c = chat()
    c.say("提现失败了")
    reply = c.say("转人工")
    assert reply["state"]["escalated"] is True
    assert load_ticket(assistant, reply["state"]["ticket"]).category == "withdrawal_problem"


def test_restart_clears_the_flow(chat):
    c = chat()
    c.say("充值失败")
    reply = c.say("重新开始")
    assert reply["state"]["flow"] is None and reply["state"]["step"] is None


@pytest.fixture
def unsure_chat(tmp_path, trained_models_dir, runtime):
    """An assistant that trusts no intent and no FAQ answer, so every message needs clarifying."""
    from engine_fixtures import Chat, make_settings

    from bot.engine import build_runtime

    cautious = make_settings(
        f"sqlite:///{tmp_path / 'unsure.db'}", trained_models_dir,
        WALLETBOT_NLU_INTENT_THRESHOLD="0.9999", WALLETBOT_NLU_REJECT_THRESHOLD="0.9999",
        WALLETBOT_FAQ_ANSWER_THRESHOLD="0.9999", WALLETBOT_FAQ_SUGGEST_THRESHOLD="0.2",
    )
    db = Database(cautious.database_url)
    db.migrate()
    bot = Assistant(cautious, build_runtime(cautious, runtime.nlu), db)
    yield lambda: Chat(bot)
    bot.close()


def test_unsure_message_clarifies_with_topics_then_offers_a_human(unsure_chat):
    c = unsure_chat()
    first = c.say("充值好像出了点问题")
    payloads = [b["payload"] for b in c.buttons()]
    assert first["state"]["flow"] is None
    assert "/intent:topup_problem" in payloads
    assert payloads[-1] == "/human"
    assert "人工" not in c.text()  # the first miss only clarifies
    c.say("充值好像出了点问题")
    assert "要不要转给人工客服" in c.text()
    assert "/human" in [b["payload"] for b in c.buttons()]


def test_clarification_button_starts_the_chosen_flow(unsure_chat):
    c = unsure_chat()
    c.say("充值好像出了点问题")
    reply = c.press("/intent:topup_problem")
    assert reply["state"]["flow"] == "topup_problem"
    assert reply["state"]["step"] == "account_info"


def test_clear_out_of_scope_is_declined_then_a_human_offered(chat):
    c = chat()
    c.say("今天天气怎么样")
    assert "帮不上忙" in c.text()
    c.say("给我讲个笑话")
    assert "/human" in [b["payload"] for b in c.buttons()]


def test_faq_answer_and_feedback_is_stored(chat, assistant):
    c = chat()
    reply = c.say("怎么开启双重验证")
    assert reply["state"]["faq_id"]
    c.press("/not_helpful")
    assert "/human" in [b["payload"] for b in c.buttons()]
    with assistant.db.session(readonly=True) as s:
        votes = list(s.scalars(select(Feedback)))
    assert [(v.target_kind, v.target_id, v.helpful) for v in votes] == [("faq", reply["state"]["faq_id"], False)]


def test_typing_a_button_title_presses_it(chat, assistant):
    c = chat()
    c.say("客服电话多少")
    c.say("有帮助")
    with assistant.db.session(readonly=True) as s:
        assert [v.helpful for v in s.scalars(select(Feedback))] == [True]


def test_traditional_chinese_and_full_width_input(chat):
    c = chat()
    assert c.say("忘記密碼了怎麼辦")["state"]["flow"] == "forgot_password"
    c2 = chat()
    assert c2.say("我提現失敗了！！！")["state"]["flow"] == "withdrawal_problem"


def test_unknown_payload_is_a_clear_error(chat):
    c = chat()
    c.say("充值失败")
    with pytest.raises(ConversationError) as info:
        c.press("no_such_button")
    assert info.value.status == 400
    assert "no_such_button" in str(info.value)


def test_conversation_resumes_after_process_restart(settings, trained_models_dir, chat):
    c = chat()
    c.say("充值失败")
    step = c.last["state"]["step"]
    # A new process: new runtime, new database engine, same database file.
    restarted = Assistant.from_settings(settings)
    try:
        reply = restarted.handle(c.id, text="还是不行")
        assert reply["state"]["flow"] == "topup_problem"
        assert reply["state"]["step"] != step
    finally:
        restarted.close()


def test_secret_gets_a_warning_and_is_never_stored(chat, settings, assistant):
    c = chat()
    reply = c.say("我的密码是Abc12345，验证码是 837261，卡号 6222 0212 3456 7890 128")
    assert reply["messages"][0]["text"].startswith("【安全提醒】")
    assistant.close()
    db_file = Path(settings.database_url[len("sqlite:///"):])
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    for secret in ("Abc12345", "837261", "6222021234567890128", "0212 3456 7890"):
        assert secret.encode() not in raw


def test_scam_report_gets_a_fraud_warning_and_a_high_priority_ticket(chat, assistant):
    c = chat()
    reply = c.say("有个自称客服的人让我把钱转到安全账户")
    assert "诈骗" in c.text()
    assert "/human" in [b["payload"] for b in c.buttons()]
    reply = c.press("/human")
    ticket = load_ticket(assistant, reply["state"]["ticket"])
    assert (ticket.category, str(ticket.priority)) == ("fraud_risk", "high")


def test_bot_is_silent_while_a_human_owns_the_conversation(chat, assistant):
    c = chat()
    c.say("你好")
    with assistant.db.session() as s:
        from bot.store import get_conversation

        get_conversation(s, c.id).human_owner = True
    reply = c.say("还在吗")
    assert reply["messages"] == []
    assert [t["role"] for t in assistant.history(c.id)][-1] == "user"


def test_brand_placeholders_are_filled_per_brand(chat):
    upay = chat("upay")
    upay.say("怎么联系客服")
    assert "Upay钱包" in upay.text()
    assert "{" not in upay.text()
    kdou = chat("kdou")
    kdou.say("怎么联系客服")
    assert "K豆钱包" in kdou.text()


def test_history_is_redacted_and_ordered(chat, assistant):
    c = chat()
    c.say("我手机号13812341234，充值失败了")
    history = assistant.history(c.id)
    assert history[0]["role"] == "user"
    assert "13812341234" not in history[0]["text"]
    assert "138****1234" in history[0]["text"]
    assert [h["seq"] for h in history] == sorted(h["seq"] for h in history)
    assert any(h["buttons"] for h in history if h["role"] == "bot")
