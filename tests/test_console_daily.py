"""The console for daily use, over HTTP against the real engine: priority changes (audited, with
the due time), age and time left, the "user wrote again" mark, and Chinese wherever an agent
reads (audit values, the trail, FAQ questions, CSV exports).

Fixtures and helpers come from test_console (the same bare app with the console mounted).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

from test_console import (  # noqa: F401  (fixtures)
    MASKED_PHONE,
    Agent,
    app,
    assign_to,
    escalate,
    events,
    frozen_account,
    login,
    ticket_of,
)

from bot.engine import Assistant
from bot.store import get_ticket
from bot.store.models import utcnow


def row_of(page: str, number: str) -> tuple[str, str]:
    """(class attribute, inner HTML) of the queue row of ticket `number`."""
    found = re.search(rf'<tr class="([^"]*)" data-ticket="{number}">(.*?)</tr>', page, re.S)
    assert found is not None, number
    return found.group(1), html.unescape(found.group(2))


def audit_rows(page: str) -> list[str]:
    table = re.search(r'data-testid="audit">(.*?)</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr data-kind=[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r))).strip() for r in rows]


def test_an_agent_changes_the_priority_and_the_due_time_follows(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    number = escalate(chat, "我充值失败了").state["ticket"]
    before = ticket_of(assistant, number)
    assert before.priority.value == "normal"
    alice = login("alice")

    done = alice.post(f"/console/tickets/{number}/priority", priority="urgent")
    assert done.status_code == 303 and done.headers["location"] == f"/console/tickets/{number}?done=priority"
    after = ticket_of(assistant, number)
    assert after.priority.value == "urgent"
    assert after.due_at == after.created_at + timedelta(hours=1)  # the brand's SLA for urgent
    last = events(assistant, number)[-1]
    assert (last.kind, last.actor) == ("priority", "alice")
    assert last.before["priority"] == "normal" and last.after["priority"] == "urgent"

    page = alice.get(done.headers["location"]).text
    assert "优先级已更新" in page and 'data-testid="ticket-priority">优先级：紧急<' in page
    audit = audit_rows(page)[-1]
    assert audit.startswith(audit[:16]) and "alice 优先级变更 优先级: 普通; 处理时限:" in audit
    assert "→ 优先级: 紧急" in audit and "urgent" not in audit

    assert alice.post(f"/console/tickets/{number}/priority", priority="urgent").status_code == 303
    assert len([e for e in events(assistant, number) if e.kind == "priority"]) == 1  # no change, no event
    refused = alice.post(f"/console/tickets/{number}/priority", priority="asap")
    assert refused.status_code == 400 and "Unknown priority 'asap'" in html.unescape(refused.text)


def test_the_audit_log_and_the_trail_read_in_chinese(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    number = frozen_account(chat).state["ticket"]
    alice = login("alice")
    alice.post(f"/console/tickets/{number}/status", status="in_progress")  # takes it
    alice.post(f"/console/tickets/{number}/reply", text="您好，我们正在核查。")
    page = alice.ticket(number).text

    audit = audit_rows(page)
    assign = next(r for r in audit if " 指派 " in r)
    assert "处理人: 无人 → 处理人: alice" in assign
    reply = next(r for r in audit if " 回复用户 " in r)
    assert "人工接管: 否 → 人工接管: 是" in reply
    assert "用户补充信息" in " ".join(audit)
    for internal in ("处理人编号", "消息序号", "True", "False", "updated", "None"):
        assert internal not in " ".join(audit), internal

    trail = html.unescape(re.search(r'data-testid="trail">(.*?)</ol>', page, re.S).group(1))  # type: ignore[union-attr]
    places = re.findall(r'<div class="meta">([^<]*)</div>', trail)
    assert places and all(p.startswith("账户冻结") for p in places), places  # the checklist's title
    assert any("补充信息：联系方式" in p for p in places) and any("补充信息：发生时间" in p for p in places)
    assert "account_frozen" not in trail and "collect:" not in trail


def test_the_queue_shows_age_time_left_and_overdue(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    late = escalate(chat).state["ticket"]
    fresh = escalate(chat).state["ticket"]
    with assistant.db.session() as s:
        ticket = get_ticket(s, late)
        assert ticket is not None
        ticket.created_at = utcnow() - timedelta(hours=26, minutes=5)
        ticket.due_at = utcnow() - timedelta(hours=2, minutes=5)
    page = login("alice").get("/console").text

    classes, cells = row_of(page, late)
    assert "overdue" in classes and "已超时 2 小时" in cells and ">26 小时<" in cells
    classes, cells = row_of(page, fresh)
    assert "overdue" not in classes and "还剩 23 小时" in cells and ">0 分钟<" in cells
    ages = re.findall(r'data-label="已等待" data-value="(\d+)"', page)
    assert len(ages) == 2 and int(ages[0]) > 26 * 3600  # raw seconds, for sorting
    assert "时间均为北京时间" in page


def test_a_ticket_whose_user_wrote_again_is_marked_until_an_agent_acts(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    conversation = escalate(chat, "我充值失败了")
    number = conversation.state["ticket"]
    alice = login("alice")
    assert "wrote-again" not in alice.get("/console").text  # new: nobody has acted yet

    alice.post(f"/console/tickets/{number}/reply", text="您好，请问充值金额是多少？")
    assert "wrote-again" not in row_of(alice.get("/console").text, number)[0]
    conversation.say("100元，昨天晚上充的")

    classes, cells = row_of(alice.get("/console").text, number)
    assert "wrote-again" in classes and "用户有新消息" in cells
    assert 'data-testid="wrote-again"' in alice.ticket(number).text
    alice.post(f"/console/tickets/{number}/note", text="已核对")
    assert "wrote-again" not in row_of(alice.get("/console").text, number)[0]


def test_reply_wording_and_a_finished_ticket_offer_no_odd_actions(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    number = escalate(chat).state["ticket"]
    alice = login("alice")
    alice.post(f"/console/tickets/{number}/status", status="in_progress")
    page = alice.ticket(number).text
    assert 'data-status="open"' not in page  # no 重新打开 while in progress
    done = alice.post(f"/console/tickets/{number}/reply", text="您好")
    assert "几秒内就会显示" in alice.get(done.headers["location"]).text
    alice.post(f"/console/tickets/{number}/status", status="resolved")
    page = alice.ticket(number).text
    assert "重新打开后才能回复" in page and "机器人正在回复" not in page and "人工客服已接管" not in page
    assert 'data-status="open"' in page  # a finished ticket can be reopened


def test_the_csv_export_reads_in_chinese_with_local_times(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    number = frozen_account(chat).state["ticket"]
    response = login("alice").get("/console/api/export.csv")
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert lines[0] == [
        "工单号",
        "状态",
        "优先级",
        "类别",
        "品牌",
        "摘要",
        "处理人",
        "创建时间（北京时间）",
        "处理时限（北京时间）",
        "更新时间（北京时间）",
        "已超时",
        "发生时间",
        "金额",
        "支付方式",
        "订单号",
        "联系方式",
        "手机号",
        "邮箱",
        "其他信息",
    ]
    row = dict(zip(lines[0], lines[1]))
    ticket = ticket_of(assistant, number)
    assert row["工单号"] == number and row["状态"] == "待处理" and row["优先级"] == "紧急"
    assert row["类别"] == "账户冻结" and row["品牌"] == "数字钱包" and row["已超时"] == "否"
    local = ticket.created_at.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert row["创建时间（北京时间）"] == local
    assert row["联系方式"] == MASKED_PHONE
    json_export = login("bob").get("/console/api/export.json").json()
    assert json_export["tickets"][0]["status"] == "open"  # the JSON keeps the stored values


def test_bulk_assign_and_close_write_one_audit_event_per_ticket(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    first, second, bobs = (escalate(chat).state["ticket"] for _ in range(3))
    assign_to(assistant, bobs, "bob")
    alice = login("alice")
    assert 'name="numbers" value="' + first in alice.get("/console").text  # a checkbox per row

    done = alice.post("/console/bulk", action="assign_me", numbers=[first, second, bobs], back="/console?status=active")  # type: ignore[arg-type]
    assert done.status_code == 303
    assert done.headers["location"] == "/console?status=active&done=bulk&changed=2&skipped=1"
    assert "已处理 2 张工单；1 张不适用" in alice.get(done.headers["location"]).text
    for number in (first, second):
        last = events(assistant, number)[-1]
        assert (last.kind, last.actor, last.after["assignee"]) == ("assign", "alice", "alice")
    assert ticket_of(assistant, bobs).assignee.name == "bob"  # someone else's: left alone

    alice.post(f"/console/tickets/{second}/status", status="in_progress")  # cannot go to closed
    done = alice.post("/console/bulk", action="close", numbers=[first, second], back="/console")  # type: ignore[arg-type]
    assert done.headers["location"] == "/console?done=bulk&changed=1&skipped=1"
    assert ticket_of(assistant, first).status.value == "closed"
    assert ticket_of(assistant, second).status.value == "in_progress"
    closing = events(assistant, first)[-1]
    assert (closing.kind, closing.before, closing.after) == ("status", {"status": "open"}, {"status": "closed"})

    assert alice.post("/console/bulk", action="delete", numbers=[first]).status_code == 400  # type: ignore[arg-type]
    assert alice.post("/console/bulk", action="close").status_code == 400
    assert (
        alice.post("/console/bulk", action="close", numbers=[first], back="https://evil.example/")
        .headers["location"]
        .startswith("/console?")
    )  # type: ignore[arg-type]
    assert alice.post("/console/bulk", csrf=False, action="close", numbers=[first]).status_code == 403  # type: ignore[arg-type]


def test_canned_replies_are_offered_with_brand_and_ticket_filled_in(
    assistant: Assistant, login: Callable[[str], Agent], chat: Callable[..., Any]
) -> None:
    number = escalate(chat, "我充值失败了").state["ticket"]
    page = html.unescape(login("alice").ticket(number).text)
    options = re.findall(r'<option value="\d+" data-text="([^"]*)">([^<]*)</option>', page)
    titles = [title for _, title in options]
    assert titles[:2] == ["接手问候", "请提供截图"]
    greeting = options[0][0]
    assert greeting.startswith("您好，我是数字钱包人工客服，您的工单 " + number + " 由我来跟进。")
    assert all("{" not in text for text, _ in options)


def test_canned_replies_are_validated_like_other_content(tmp_path) -> None:
    from bot.content import load_canned_replies

    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "canned_replies.yml").write_text(
        "replies:\n"
        "  - id: ok_one\n    title: 好的\n    text: 您好，{brand}客服在此，工单 {ticket}。\n"
        "  - id: Bad-Id\n    title: 坏\n    text: x\n"
        "  - id: asks\n    title: 索要\n    text: 请把验证码发给我。\n"
        "  - id: ok_one\n    title: 重复\n    text: 重复的\n"
        "  - id: typo\n    title: 占位\n    text: 工单 {tickt}\n",
        encoding="utf-8",
    )
    problems: list = []
    replies = load_canned_replies(tmp_path, tmp_path, problems)
    assert [r.id for r in replies] == ["ok_one"]
    found = sorted((p.line, p.code) for p in problems)
    assert found == [(5, "canned_reply"), (10, "asks_secret"), (11, "duplicate_id"), (16, "unknown_placeholder")]
