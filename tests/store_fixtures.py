"""A ticket opened the way the chat opens one, for the store's queue and console-query tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.store import Ticket, append_turn, create_conversation, create_ticket_once

SLA = {"urgent": 1, "high": 4, "normal": 24, "low": 72}


def open_ticket(
    s: Session,
    *,
    brand: str = "kdou",
    category: str = "refund",
    priority: str = "normal",
    summary: str = "申请退款500元未到账",
    details: dict[str, Any] | None = None,
) -> Ticket:
    conv, _ = create_conversation(s, brand=brand, channel="http")
    append_turn(s, conv, role="user", text="我要退款")
    ticket, _ = create_ticket_once(
        s,
        conv,
        brand=brand,
        category=category,
        priority=priority,
        summary=summary,
        details=details if details is not None else {"amount": "500元", "contact": "13812345678"},
        trail=[],
        sla_hours=SLA,
    )
    return ticket
