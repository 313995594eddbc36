"""Every branch of every shipped flow, walked to its leaf through the real engine."""

from __future__ import annotations

import pytest
from engine_fixtures import CONFIG, Chat

from bot.config import load_settings
from bot.dialogue.state import higher
from bot.flows.model import Flow, load_flows
from bot.store.tickets import get_ticket

SETTINGS = load_settings(CONFIG)
FLOWS, _ = load_flows(SETTINGS.data_dir, SETTINGS.root)


def branches(flow: Flow, brand: str) -> list[list[str]]:
    """Every path of option payloads from the brand's start step to a leaf (validated flows are acyclic)."""
    paths: list[list[str]] = []

    def walk(step_id: str, taken: list[str], seen: frozenset[str]) -> None:
        step = flow.steps[step_id]
        if step.is_leaf:
            paths.append(taken)
            return
        if step.next:
            return walk(step.next_for(brand), taken, seen | {step_id})
        for option in step.options:
            if option.next_for(brand) not in seen:
                walk(option.next_for(brand), [*taken, option.payload], seen | {step_id})

    walk(flow.start_for(brand), [], frozenset())
    return paths


def walks(flow: Flow) -> list[str]:
    """The brands to walk: the default brand, and every brand whose checklist differs."""
    return [SETTINGS.default_brand, *sorted(flow.route_brands() - {SETTINGS.default_brand})]


CASES = [
    (name, brand, path)
    for name, flow in sorted(FLOWS.items())
    for brand in walks(flow)
    for path in branches(flow, brand)
]


def test_every_problem_intent_has_a_flow():
    assert set(FLOWS) == {
        "forgot_password",
        "topup_problem",
        "withdrawal_problem",
        "payment_problem",
        "transaction_failed",
        "refund",
        "account_stolen",
        "account_frozen",
        "limits",
        "balance_issue",
    }


@pytest.mark.parametrize(
    ("flow_name", "brand", "path"), CASES, ids=[f"{n}:{b}:{'>'.join(p) or 'start'}" for n, b, p in CASES]
)
def test_branch_reaches_its_leaf(assistant, flow_name: str, brand: str, path: list[str]):
    flow = FLOWS[flow_name]
    chat = Chat(assistant, brand=brand)
    reply = chat.press(f"/intent:{flow_name}")
    for payload in path:
        assert payload in [b["payload"] for b in chat.buttons()], f"button {payload} not offered"
        reply = chat.press(payload)
    leaf = flow.steps[_leaf_of(flow, brand, path)]
    if leaf.resolved is not None:
        assert reply["state"]["flow"] is None
        assert [b["payload"] for b in chat.buttons()] == ["/helpful", "/not_helpful"]
        return
    if leaf.ends is not None:
        # Stopped without a ticket: the flow is over, unsolved, and a human is one button away.
        assert reply["state"]["flow"] is None and reply["state"]["resolved"] is False
        assert reply["state"]["ticket"] is None
        assert [b["payload"] for b in chat.buttons()] == ["/human"]
        return
    # Escalation: answer every detail prompt by skipping, then a ticket must exist.
    for _ in range(len(leaf.collect) + 1):
        if reply["state"]["escalated"]:
            break
        reply = chat.press("/skip")
    assert reply["state"]["escalated"] is True
    assert reply["state"]["ticket"] in chat.text()
    # The ticket row carries the leaf's category and priority.
    with assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, reply["state"]["ticket"])
        assert ticket.category == leaf.escalate.category
        # The leaf's priority, or the flow's own when the problem itself is more urgent.
        assert str(ticket.priority) == higher(leaf.escalate.priority, flow.priority)


def _leaf_of(flow: Flow, brand: str, path: list[str]) -> str:
    step_id = flow.start_for(brand)
    payloads = iter(path)
    while True:
        step = flow.steps[step_id]
        if step.is_leaf:
            return step_id
        if step.next:
            step_id = step.next_for(brand)
            continue
        wanted = next(payloads)
        step_id = next(o.next_for(brand) for o in step.options if o.payload == wanted)


def test_account_stolen_escalations_are_urgent_or_high():
    leaves = [s for s in FLOWS["account_stolen"].steps.values() if s.escalate]
    assert leaves and all(s.escalate.priority in ("urgent", "high") for s in leaves)
