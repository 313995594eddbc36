"""Conversations through the real engine (NLU, policy, flows, FAQ, store): every dialogue path."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.dialogue.state import STATE_VERSION
from bot.engine import Assistant
from bot.errors import ConversationError
from bot.store import Database, Feedback, Ticket
from bot.store.tickets import get_ticket


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
    # The ticket opens at once; the details asked next are added to it as they come.
    assert reply["state"]["escalated"] is True
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


def test_faq_question_mid_flow_is_answered_and_the_step_still_waits(chat):
    c = chat()
    c.say("充值失败")
    step = c.last["state"]["step"]
    reply = c.say("你们客服电话是多少")
    assert reply["state"]["faq_id"] is not None
    assert (reply["state"]["flow"], reply["state"]["step"]) == ("topup_problem", step)
    payloads = [b["payload"] for b in c.buttons()]
    assert "/helpful" not in payloads and "/human" in payloads and len(payloads) > 1  # the step's own buttons
    reply = c.say("还是不行")
    assert reply["state"]["flow"] == "topup_problem" and reply["state"]["step"] != step


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
        f"sqlite:///{tmp_path / 'unsure.db'}",
        trained_models_dir,
        WALLETBOT_NLU_INTENT_THRESHOLD="0.9999",
        WALLETBOT_NLU_REJECT_THRESHOLD="0.9999",
        WALLETBOT_FAQ_ANSWER_THRESHOLD="0.9999",
        WALLETBOT_FAQ_SUGGEST_THRESHOLD="0.2",
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
    assert reply["state"]["step"] == "source_balance"  # the generic brand's guide (001) starts with the funds


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
    assert info.value.code == "unknown_payload"  # bot.api.errors answers it with 400
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
    db_file = Path(settings.database_url[len("sqlite:///") :])
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


# ---------------------------------------------------------------------- free text in context


def feedback_votes(assistant: Assistant) -> list[tuple[str, str, bool]]:
    with assistant.db.session(readonly=True) as s:
        return [(v.target_kind, v.target_id, v.helpful) for v in s.scalars(select(Feedback))]


@pytest.mark.parametrize("answer", ["有几笔不是我买的", "有不是我操作的", "不是我本人操作的", "有一笔陌生的转账"])
def test_not_me_answers_yes_to_the_stolen_account_records_question(chat, assistant, answer):
    """ "有没有不是您本人操作的交易？" — 不是我… means yes: urgent ticket, never "nothing abnormal"."""
    c = chat()
    c.say("我的账号被盗了")
    c.press_title("能登录")
    c.press_title("已完成")
    assert c.state["step"] == "check_records"
    reply = c.say(answer)
    assert reply["state"]["step"] == "fraud_support"
    assert "没有发现异常" not in c.text()
    for _ in range(3):
        reply = c.press("/skip")
    ticket = load_ticket(assistant, reply["state"]["ticket"])
    assert (ticket.category, str(ticket.priority)) == ("account_stolen", "urgent")


@pytest.mark.parametrize(
    ("answer", "step"),
    [
        ("都是我自己操作的", "device_check"),
        ("没发现有异常", "device_check"),
        ("没有不是我操作的", "device_check"),
        ("有", "fraud_support"),
        ("没有", "device_check"),
    ],
)
def test_stolen_account_records_question_still_understands_plain_answers(chat, answer, step):
    c = chat()
    c.say("我的账号被盗了")
    c.press_title("能登录")
    c.press_title("已完成")
    assert c.say(answer)["state"]["step"] == step


@pytest.mark.parametrize(
    ("answer", "step"),
    [
        ("有一笔不是我本人操作的", "suspicious_support"),
        ("有几笔陌生的消费", "suspicious_support"),
        ("都是我自己买的", "unlock_support"),
    ],
)
def test_not_me_answers_yes_to_the_frozen_account_activity_question(chat, answer, step):
    c = chat()
    c.say("我的账户被冻结了")
    c.press_title("还是不行")
    assert c.state["step"] == "activity"
    assert c.say(answer)["state"]["step"] == step


@pytest.mark.parametrize(
    ("opening", "presses", "answer", "step"),
    [
        # "钱是不是已经扣了，但订单还显示未支付？": 没有支付 describes the order, not the money
        ("支付失败", ["还是不行"] * 4, "钱扣了，订单还显示没有支付", "charged_unpaid"),
        ("支付失败", ["还是不行"] * 4, "钱没有被扣", "to_support"),
        ("充值失败", ["还是不行"] * 5, "提示账户被限制了", "unlock_support"),
        ("充值失败", ["还是不行"] * 5, "没看到什么提示", "to_support"),
        ("余额不对", ["对不上"], "有一笔提现还没到账", "wait_pending"),
        ("余额不对", ["对不上"], "没有处理中的", "refresh"),
        ("限额是多少", ["每日支付限额"], "没超过", "bank"),
        ("限额是多少", ["每日支付限额"], "超过了", "over_limit"),
    ],
)
def test_option_words_beat_generic_yes_no(chat, assistant, opening, presses, answer, step):
    c = chat("upay")  # the Upay checklists: payment and top-up orders of guide 002
    c.say(opening)
    for title in presses:
        c.press_title(title)
    flow = c.state["flow"]
    c.say(answer)
    with assistant.db.session(readonly=True) as s:
        from bot.store import get_conversation

        trail = get_conversation(s, c.id).state["trail"]
    assert [e["step"] for e in trail if e.get("flow") == flow and "say" in e][-1] == step


def answered_a_faq_question_at_a_step(chat):
    c = chat("upay")  # Upay's top-up checklist: card details, then the network
    c.say("充值失败")
    c.say("还是不行")
    assert c.state["step"] == "network"
    c.say("你们客服电话是多少")
    assert (c.state["flow"], c.state["step"]) == ("topup_problem", "network") and c.state["faq_id"]
    # No "did this help?" between the answer and the step: the step's question is the one asked.
    assert [[b["payload"] for b in m["buttons"]] for m in c.last["messages"] if m["buttons"]] == [
        [b["payload"] for b in c.buttons()]
    ]
    assert "/helpful" not in [b["payload"] for b in c.buttons()]
    return c


@pytest.mark.parametrize("answer", ["继续", "要继续", "继续排查吧", "要", "好的", "是的"])
def test_yes_or_continue_after_an_answer_at_a_step_goes_back_to_the_step(chat, assistant, answer):
    c = answered_a_faq_question_at_a_step(chat)
    reply = c.say(answer)
    assert (reply["state"]["flow"], reply["state"]["step"]) == ("topup_problem", "network")
    assert not reply["state"]["resolved"]  # 好的 acknowledges the answer; it does not say the step worked
    assert "继续刚才的排查" in c.text()
    assert feedback_votes(assistant) == []


def test_an_answer_to_the_step_after_an_faq_answer_moves_on(chat, assistant):
    c = answered_a_faq_question_at_a_step(chat)
    reply = c.say("网络是好的 还是充不进去")
    assert reply["state"]["flow"] == "topup_problem" and reply["state"]["step"] != "network"
    assert feedback_votes(assistant) == []


def test_a_new_problem_after_an_faq_answer_is_not_taken_as_feedback(chat, assistant):
    c = chat()
    c.say("客服电话多少")
    reply = c.say("我的提现没有到账")
    assert reply["state"]["flow"] == "withdrawal_problem"
    assert feedback_votes(assistant) == []


@pytest.mark.parametrize(
    ("opening", "presses", "answer", "step"),
    [
        ("我要申请退款", [], "买的东西没发货", "find_record"),
        ("我要申请退款", [], "商品和描述不符", "find_record"),
        ("我要申请退款", ["属于"], "找到那笔交易了", "apply"),
        ("我要申请退款", ["属于", "找到了"], "十天了还没到", "delayed"),
        ("我要申请退款", ["属于", "找到了", "提交了"], "十天了还没到", "delayed"),
        ("我要申请退款", ["属于", "找到了", "提交了"], "明白了", "waiting"),
        ("我要申请退款", ["已申请没到账"], "还没到", "to_support"),
        ("提现遇到问题", [], "已经三天了", "not_arrived"),
        ("提现遇到问题", [], "怎么提现", "howto"),
        ("提现遇到问题", [], "提不出来，一直失败", "network"),
    ],
)
def test_refund_and_withdrawal_steps_understand_typed_answers(chat, assistant, opening, presses, answer, step):
    c = chat()
    c.say(opening)
    assert c.state["step"] in ("eligibility", "kind")
    for title in presses:
        c.press_title(title)
    reply = c.say(answer)
    if step in ("waiting",):
        assert reply["state"]["flow"] is None and "耐心等待" in c.text()
    else:
        assert reply["state"]["step"] == step


@pytest.mark.parametrize(
    ("opening", "flow", "step"),
    [
        ("提现了三天还没到账", "withdrawal_problem", "not_arrived"),
        ("提现失败了", "withdrawal_problem", "network"),
        ("付款成功了但是订单显示未支付", "payment_problem", "charged_unpaid"),
        ("商家一直不发货，我要退款", "refund", "find_record"),
        ("退款申请了一周还没到账", "refund", "delayed"),
        ("我充值交易失败了", "transaction_failed", "network"),
        ("账号被盗了，现在登不上去", "account_stolen", "locked_out"),
        ("今天付款提示超过每日限额", "limits", "daily"),
        # not answered by the opening: the first step is asked
        ("提现遇到问题", "withdrawal_problem", "kind"),
        ("提现失败好几天了", "withdrawal_problem", "kind"),  # two options named: ask
        ("想退款 不知道行不行", "refund", "eligibility"),  # not knowing answers nothing in advance
        ("我的账号被盗了", "account_stolen", "can_login"),
        ("付款失败", "payment_problem", "payment_info"),
    ],
)
def test_the_opening_message_answers_the_first_step(chat, opening, flow, step):
    c = chat()
    reply = c.say(opening)
    assert (reply["state"]["flow"], reply["state"]["step"]) == (flow, step)


def test_answered_first_step_is_in_the_trail_and_yes_no_longer_resolves(chat, assistant):
    c = chat()
    c.say("付款成功了但是订单显示未支付")
    assert "扣了款但订单没有支付成功" in c.text()
    reply = c.say("是的")
    assert "支付成功了" not in c.text()
    assert reply["state"]["flow"] == "payment_problem"
    for _ in range(3):
        if c.state["escalated"]:
            break
        reply = c.press("/skip")
    ticket = load_ticket(assistant, reply["state"]["ticket"])
    assert ticket.category == "payment_problem"
    first = ticket.trail[0]
    assert (first["step"], first["answer"], first["choice"]) == (
        "payment_info",
        "付款成功了但是订单显示未支付",
        "扣了钱没成功",
    )


def test_a_flow_started_by_a_button_asks_its_first_step(chat):
    c = chat()
    assert c.press("/intent:withdrawal_problem")["state"]["step"] == "kind"


def test_switching_flows_mid_flow_also_uses_the_message(chat):
    c = chat()
    c.say("充值失败")
    reply = c.say("算了，我提现了三天还没到账")
    assert (reply["state"]["flow"], reply["state"]["step"]) == ("withdrawal_problem", "not_arrived")


@pytest.mark.parametrize("question", ["有没有招聘信息", "你们招不招实习生", "我想找工作", "面试要带什么材料"])
def test_job_questions_are_out_of_scope(chat, question):
    c = chat()
    reply = c.say(question)
    assert reply["state"]["flow"] is None and reply["state"]["faq_id"] is None
    assert "帮不上忙" in c.text()


# ---------------------------------------------------------------------- collecting details
# Before a ticket the bot collects details, pre-filled from what the user already said. These
# run the real engine, whose clock is the real one: dates are computed from today.

CHARGED = "钱被扣了但订单显示未支付"  # takes payment_problem straight to charged_unpaid
ORDER = "2024061812345678"


def today() -> date:
    return datetime.now().date()


def ticket_of(assistant: Assistant, reply: dict) -> Ticket:
    assert reply["state"]["escalated"] is True, reply
    return load_ticket(assistant, reply["state"]["ticket"])


def test_a_day_alone_does_not_answer_the_time_so_it_is_still_asked(chat, assistant):
    c = chat()
    c.say(f"今天付款失败了，{CHARGED}")
    assert c.state["step"] == "charged_unpaid"
    assert "这笔支付大概是什么时候" in c.text()  # 今天 names no time of day
    c.say("今天中午12点")
    assert "支付金额是多少" in c.text()  # read as the time, not as an amount
    c.say("88元")
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details == {"time": f"{today()} 12:00", "amount": "88", "order_id": ORDER}


def test_a_clock_time_answered_later_falls_on_the_day_and_period_named_earlier(chat, assistant):
    c = chat()
    c.say(f"昨天晚上付款失败了，{CHARGED}")
    assert "这笔支付大概是什么时候" in c.text()
    c.say("8点")  # 昨天晚上 + 8点: 20:00 yesterday, not 08:00 and not today
    c.say("88元")
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["time"] == f"{today() - timedelta(days=1)} 20:00"


def test_skipping_the_time_keeps_the_day_named_earlier(chat, assistant):
    c = chat()
    c.say(f"昨天付款失败了，{CHARGED}")
    assert "这笔支付大概是什么时候" in c.text()
    c.press("/skip")
    c.say("88元")
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["time"] == str(today() - timedelta(days=1))
    assert {e["step"]: e["answer"] for e in ticket.trail}["collect:time"] == "(跳过)"


def test_a_precise_time_and_amount_said_earlier_are_not_asked_again(chat, assistant):
    c = chat()
    c.say("昨天下午三点充值100元失败了")
    asked = []
    for _ in range(8):
        if c.state["step"] == "to_support":
            break
        c.say("还是不行")
        asked.append(c.text())
    assert c.state["step"] == "to_support"
    assert "用什么方式充值的" in c.text()  # the one detail not said yet
    assert not any("这笔充值大概是什么时候" in t or "充值金额是多少" in t for t in asked)
    ticket = ticket_of(assistant, c.say("用的银行卡"))
    assert ticket.details == {"time": f"{today() - timedelta(days=1)} 15:00", "amount": "100", "method": "银行卡"}


def test_a_time_typed_when_the_amount_is_asked_never_becomes_the_amount(chat, assistant):
    c = chat()
    c.say(f"昨天下午三点付款失败了，{CHARGED}")
    assert "支付金额是多少" in c.text()  # the time was given precisely
    for answer in ("3点", "今天中午12点"):  # also on the second try
        c.say(answer)
        assert "好像没有识别出来" in c.text() and "商户订单号" not in c.text()
    c.say("300元")
    assert "商户订单号" in c.text()
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details == {"time": f"{today() - timedelta(days=1)} 15:00", "amount": "300", "order_id": ORDER}


def test_an_amount_typed_when_the_time_is_asked_is_the_amount_and_the_time_is_asked_again(chat, assistant):
    c = chat()
    c.say(f"付款失败了，{CHARGED}")
    assert "这笔支付大概是什么时候" in c.text()
    c.say("3元")
    assert "这笔支付大概是什么时候" in c.text() and "好像没有识别出来" not in c.text()
    c.say("下午3点")
    assert "商户订单号" in c.text()  # the amount is not asked: 3元 answered it
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["amount"] == "3"
    assert ticket.details["time"].endswith(" 15:00")


def test_a_time_and_an_amount_in_one_answer_are_read_apart(chat, assistant):
    c = chat()
    c.say(f"付款失败了，{CHARGED}")
    c.say("下午3点100元")  # not 3.1元
    assert "商户订单号" in c.text()
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["amount"] == "100"
    assert ticket.details["time"].endswith(" 15:00")


def test_an_order_number_typed_when_the_amount_is_asked_fills_the_order_number(chat, assistant):
    c = chat()
    c.say(f"昨天下午三点付款失败了，{CHARGED}")
    c.say(ORDER)
    assert "支付金额是多少" in c.text() and "好像没有识别出来" not in c.text()
    ticket = ticket_of(assistant, c.say("88元"))  # the order number is not asked again
    assert ticket.details["order_id"] == ORDER
    assert ticket.details["amount"] == "88"


def test_an_amount_typed_when_the_order_number_is_asked_never_becomes_the_order_number(chat, assistant):
    c = chat()
    c.say(f"昨天下午三点付了88元，{CHARGED}")
    assert "商户订单号" in c.text()
    for _ in range(2):
        c.say("88元")
        assert "好像没有识别出来" in c.text()
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["order_id"] == ORDER
    assert ticket.details["amount"] == "88"


def test_a_bare_phone_number_is_never_kept_as_the_order_number(chat, assistant):
    # 13812345678 is masked as a phone before the policy reads it: kept as an order number it
    # would sit unmasked in a detail the console shows in full. 订单号13812345678 still works.
    # A phone number typed there is kept as the user's contact, and the order number asked again.
    c = chat()
    c.say(f"昨天下午三点付了88元，{CHARGED}")
    c.say("13812345678")
    assert "商户订单号" in c.text()
    assert {k: v for k, v in ticket_of(assistant, c.last).details.items() if k != "time"} == {
        "amount": "88",
        "contact": "13812345678",
    }
    ticket = ticket_of(assistant, c.say("订单号13812345678"))
    assert ticket.details["order_id"] == "13812345678"


def test_a_phone_number_typed_when_the_amount_is_asked_is_not_an_amount(chat, assistant):
    c = chat()
    c.say(f"昨天下午三点付款失败了，{CHARGED}")
    c.say("13812345678")  # masked to 138****5678 before the policy reads it: 138 is no amount
    assert "支付金额" in c.text() and "商户订单号" not in c.text()  # kept as the contact, amount asked again
    c.say("88元")
    ticket = ticket_of(assistant, c.say(f"订单号是{ORDER}"))
    assert ticket.details["amount"] == "88"


def test_one_policy_answers_two_threads_without_mixing_their_turns(runtime):
    """The Policy is shared by FastAPI's threads (and answers concurrently on PostgreSQL): one
    message's ticket callback, clock and raw text must never leak into another's."""
    import sys
    import threading

    from bot.dialogue import TicketInfo, fresh_state

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        mixed: list[str] = []

        def worker(name: str) -> None:
            for i in range(40):

                def open_ticket(request, mine=name, i=i):
                    if threading.current_thread().name != mine:
                        mixed.append(f"{threading.current_thread().name} used {mine}'s ticket callback")
                    return TicketInfo(f"WB-{mine}-{i}", True, 24)

                result = runtime.policy.respond(
                    fresh_state(),
                    "kdou",
                    text="转人工",
                    payload=None,
                    nlu=runtime.nlu.parse("转人工"),
                    open_ticket=open_ticket,
                )
                if not any(f"WB-{name}-{i}" in m["text"] for m in result.messages):
                    mixed.append(f"{name} turn {i} did not show its own ticket")

        threads = [threading.Thread(target=worker, args=(n,), name=n) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert mixed == []


def test_resolved_and_priority_are_in_the_public_state_on_the_turn_they_happen(chat):
    c = chat()
    assert c.say("充值失败")["state"]["resolved"] is False
    reply = c.say("改了卡号 充进去了")
    assert reply["state"]["resolved"] is True and reply["state"]["flow"] is None
    assert c.say("谢谢")["state"]["resolved"] is False  # only the turn that solved it
    stolen = chat()
    stolen.say("我的账号被盗了")
    assert stolen.say("转人工")["state"]["priority"] == "urgent"  # the flow's own urgency, whatever button


def test_a_state_stored_before_version_2_goes_on_where_it_was(chat, assistant):
    c = chat()
    c.say("充值失败")
    with assistant.db.session() as s:
        from bot.store import get_conversation, save_state

        conv = get_conversation(s, c.id, lock=True)
        old = {
            k: v
            for k, v in conv.state.items()
            if k not in ("version", "priority", "urgency", "resolved", "problems", "left_flow")
        }
        save_state(conv, old)
    reply = c.say("还是不行")
    assert (reply["state"]["flow"], reply["state"]["step"], reply["state"]["priority"]) == (
        "topup_problem",
        "account_info",
        None,
    )
    with assistant.db.session(readonly=True) as s:
        from bot.store import get_conversation

        assert get_conversation(s, c.id).state["version"] == STATE_VERSION


def test_typed_answers_that_say_the_checked_thing_is_fine_never_solve_the_problem(chat):
    c = chat()
    c.say("充值失败了")
    for answer in ("卡的信息都对", "网络挺稳定的", "公告里没说维护", "卡里钱够"):
        reply = c.say(answer)
        assert reply["state"]["resolved"] is False and reply["state"]["flow"] == "topup_problem", (answer, c.text())


def test_a_scam_with_money_in_it_makes_the_ticket_urgent_and_without_money_high(chat, assistant):
    paid = chat()
    paid.say("有人冒充客服说我中奖了 要先交手续费 我已经给他转了3000")
    assert "诈骗" in paid.text()
    assert paid.say("转人工")["state"]["priority"] == "urgent"
    asked = chat()
    asked.say("有人让我下载会议软件共享屏幕")
    assert asked.say("转人工")["state"]["priority"] == "high"
    assert load_ticket(assistant, asked.state["ticket"]).category == "fraud_risk"


def test_a_correction_while_details_are_asked_replaces_the_detail(chat, assistant):
    c = chat()
    c.say("交易失败了")
    c.press_title("充值")
    for _ in range(3):
        c.say("还是不行")
    c.say("昨天下午三点充的100元")  # time and amount; the method is asked next
    assert "用什么方式" in c.text() or "方式" in c.text()
    c.say("金额写错了 应该是250")
    assert "已按您的更正修改" in c.text()
    ticket = ticket_of(assistant, c.say("用的银行卡"))
    assert ticket.details["amount"] == "250" and ticket.details["method"] == "银行卡"


@pytest.mark.parametrize("opening", ["我充值失败了", "提现一直没到账", "付款失败了"])
def test_one_no_secrets_reminder_before_the_detail_questions(chat, opening):
    """The escalating step and the details' introduction used to both say "no passwords, codes
    or card numbers", two messages in a row: the introduction says it once."""
    c = chat()
    reply = c.say(opening)
    for _ in range(12):
        if reply["state"]["escalated"]:
            break
        titles = [b["title"] for b in c.buttons()]
        reply = c.press_title("还是不行") if "还是不行" in titles else c.say("还是不行")
    assert reply["state"]["escalated"] is True, c.text()
    reminders = [m["text"] for m in reply["messages"] if "验证码" in m["text"]]
    assert len(reminders) == 1, reminders


def test_a_flows_solved_words_end_it_from_any_step_unless_negated(chat):
    """`solved_by` (data/flows/forgot_password.yml): the whole problem solved, at whatever step."""
    c = chat()
    c.say("密码忘了登不进去")
    assert c.state["step"] == "login_page"
    assert c.say("搞定了 新密码能登了")["state"]["resolved"] is True

    c = chat()
    c.say("密码忘了登不进去")
    c.say("找到了")
    reply = c.say("收到了 可还是不能登录了")
    assert reply["state"]["resolved"] is False and reply["state"]["flow"] == "forgot_password"
