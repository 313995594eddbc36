"""Conversation scenarios: whole conversations run through the real engine and checked turn by turn.

The format is `../shared/eval/CONVERSATIONS.md`; its reference reading is
`../shared/tools/dialogue_check.py`, which drives `walletbot chat --jsonl` in a subprocess. This
module reads the format the same way (same validation, same expectations, same text comparison,
same `resolved` and `button:` rules) but runs in-process, so that `walletbot test` and pytest can
run a file in seconds without a trained copy of the project:

    scenarios = load_scenarios(Path("tests/conversations/topup.yml"))
    with ScenarioRunner(settings) as runner:          # one runtime, one throwaway database
        results = [runner.run(sc) for sc in scenarios]

A file with any invalid scenario is refused as a whole (ScenarioFileError, every problem with its
file and line): a scenario that cannot be read must be fixed, not counted as a bot failure.
Reading and validating the file is bot.measure.scenario_file; its names are importable here too.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import WalletbotError
from bot.measure.scenario_file import EXPECT_KEYS as EXPECT_KEYS
from bot.measure.scenario_file import FINAL_KEYS as FINAL_KEYS
from bot.measure.scenario_file import FINAL_LISTS
from bot.measure.scenario_file import SCENARIO_KEYS as SCENARIO_KEYS
from bot.measure.scenario_file import TURN_KEYS as TURN_KEYS
from bot.measure.scenario_file import Scenario as Scenario
from bot.measure.scenario_file import ScenarioFileError as ScenarioFileError
from bot.measure.scenario_file import Turn as Turn
from bot.measure.scenario_file import load_scenarios as load_scenarios
from bot.measure.scenario_file import select as select

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# A leaf's text counts as said only through fragments long enough not to match by chance.
_MIN_FRAGMENT = 4
SHOW_CHARS = 110


# --------------------------------------------------------------------------- text comparison


def squash(text: str | None) -> str:
    """Text as compared: NFKC (full-width to half-width), lower-case, no whitespace.

    Deliberately not the NLU's normalize(): expectations are about what the bot wrote, so no
    Traditional-to-Simplified conversion or synonym folding may make a forbidden word match.
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def contains(text: str | None, piece: str) -> bool:
    return piece in (text or "") or squash(piece) in squash(text)


def short(text: str | None, limit: int = SHOW_CHARS) -> str:
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --------------------------------------------------------------------------- `resolved`


class ResolvedLeaves:
    """The `resolved:` leaves of the flows the bot serves: step ids per flow, and their texts.

    A turn declares the problem solved when the state's step is such a leaf. A bot that leaves
    the flow as it reaches the leaf (flow/step back to null) shows it only in its words, so the
    leaf's text in the reply counts too (placeholders such as {brand} skipped): a bot cannot hide
    a "solved" by not reporting it.
    """

    def __init__(self, flows: Mapping[str, Any]) -> None:
        self.steps: dict[str, set[str]] = {}
        self.fragments: list[tuple[str, str, list[str]]] = []
        for flow in flows.values():
            for step in flow.steps.values():
                if step.resolved is None:
                    continue
                self.steps.setdefault(flow.name, set()).add(step.id)
                texts = list(step.resolved.values()) if isinstance(step.resolved, Mapping) else [step.resolved]
                for text in texts:
                    frags = [squash(f) for f in _PLACEHOLDER.split(str(text)) if len(squash(f)) >= _MIN_FRAGMENT]
                    if frags:
                        self.fragments.append((flow.name, step.id, frags))

    def reached(self, state: Mapping[str, Any], text: str, before: str | None = None) -> str | None:
        """`flow.step` of the resolved leaf this reply reached, or None. Several flows share a
        leaf text ("太好了，问题解决了！"): the flow active before the turn is named first."""
        flow, step = state.get("flow"), state.get("step")
        if flow in self.steps and step in self.steps[flow]:
            return f"{flow}.{step}"
        said = squash(text)
        for flow_name, step_id, frags in sorted(self.fragments, key=lambda f: f[0] != before):
            if all(f in said for f in frags):
                return f"{flow_name}.{step_id}"
        return None


# --------------------------------------------------------------------------- checks


def reply_text(reply: Mapping[str, Any]) -> str:
    return "\n".join(str(m.get("text") or "") for m in reply.get("messages") or [])


def reply_buttons(reply: Mapping[str, Any]) -> list[dict[str, str]]:
    return [b for m in reply.get("messages") or [] for b in m.get("buttons") or []]


def check_turn(
    exp: Mapping[str, Any], reply: Mapping[str, Any], leaves: ResolvedLeaves, flow_before: str | None = None
) -> list[str]:
    """The failed expectations of one turn, each as a sentence (empty: the turn passed)."""
    state = reply.get("state") or {}
    text = reply_text(reply)
    titles = [str(b.get("title")) for b in reply_buttons(reply)]
    fails: list[str] = []
    if "flow" in exp and state.get("flow") != exp["flow"]:
        fails.append(f"flow: expected {exp['flow']!r}, got {state.get('flow')!r}")
    if "flow_in" in exp and state.get("flow") not in exp["flow_in"]:
        fails.append(f"flow_in: expected one of {exp['flow_in']}, got {state.get('flow')!r}")
    if "intent" in exp and state.get("intent") != exp["intent"]:
        fails.append(f"intent: expected {exp['intent']!r}, got {state.get('intent')!r}")
    if "intent_in" in exp and state.get("intent") not in exp["intent_in"]:
        fails.append(f"intent_in: expected one of {exp['intent_in']}, got {state.get('intent')!r}")
    if "resolved" in exp:
        leaf = "state.resolved" if state.get("resolved") is True else leaves.reached(state, text, flow_before)
        if exp["resolved"] and not leaf:
            fails.append("resolved: expected the problem declared solved (a resolved leaf), it was not")
        if not exp["resolved"] and leaf:
            fails.append(f"resolved: expected NOT declared solved, but reached {leaf}")
    if "escalated" in exp and bool(state.get("escalated")) != exp["escalated"]:
        fails.append(f"escalated: expected {exp['escalated']}, got {bool(state.get('escalated'))}")
    if "ticket" in exp and bool(state.get("ticket")) != exp["ticket"]:
        fails.append(f"ticket: expected {'a' if exp['ticket'] else 'no'} ticket, got {state.get('ticket')!r}")
    if "says_any" in exp and not any(contains(text, s) for s in exp["says_any"]):
        fails.append(f"says_any: none of {exp['says_any']} in the reply")
    if "says_none" in exp:
        found = [s for s in exp["says_none"] if contains(text, s)]
        if found:
            fails.append(f"says_none: the reply says {found}")
    if "buttons_any" in exp and not any(t in titles for t in exp["buttons_any"]):
        fails.append(f"buttons_any: none of {exp['buttons_any']} offered (offered: {titles})")
    return fails


def check_final(final: Mapping[str, Any], tickets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The failed `final` expectations. With several tickets, each key must hold for at least one."""
    fails: list[str] = []
    if "tickets" in final and len(tickets) != final["tickets"]:
        fails.append(f"tickets: expected {final['tickets']}, got {len(tickets)}")
    needs_ticket = [k for k in FINAL_LISTS if k in final]
    if needs_ticket and not tickets:
        return fails + [f"{needs_ticket[0]}: no ticket was opened"]
    if "priority_in" in final and not any(str(t["priority"]) in final["priority_in"] for t in tickets):
        fails.append(
            f"priority_in: expected one of {final['priority_in']}, got {[str(t['priority']) for t in tickets]}"
        )
    if "category_in" in final and not any(str(t["category"]) in final["category_in"] for t in tickets):
        fails.append(f"category_in: expected one of {final['category_in']}, got {[t['category'] for t in tickets]}")
    if "details_have" in final:

        def has_all(t: Mapping[str, Any]) -> bool:
            details = t["details"] if isinstance(t["details"], Mapping) else {}
            return all(details.get(k) not in (None, "", [], {}) for k in final["details_have"])

        if not any(has_all(t) for t in tickets):
            fails.append(
                f"details_have: expected {final['details_have']}, got details {[t['details'] for t in tickets]}"
            )
    if "summary_any" in final and not any(contains(t["summary"], s) for t in tickets for s in final["summary_any"]):
        fails.append(
            f"summary_any: none of {final['summary_any']} in summary {[short(t['summary'], 60) for t in tickets]}"
        )
    return fails


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class Failure:
    turn: int | str  # the turn number, or "final"
    input: str  # "user: …" / "button: …" ("" for final)
    message: str
    bot: str = ""  # the bot's text of that turn

    def as_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "input": self.input, "message": self.message, "bot": self.bot}


@dataclass(slots=True)
class ScenarioResult:
    name: str
    brand: str
    file: str = ""
    failures: list[Failure] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def line(self) -> str:
        """`PASS name`, or `FAIL name — turn N (user: …): reason | bot: …` for the first failure."""
        if self.passed:
            return f"PASS {self.name}"
        f = self.failures[0]
        where = f"turn {f.turn} ({short(f.input, 40)})" if isinstance(f.turn, int) else str(f.turn)
        line = f"FAIL {self.name} — {where}: {f.message}"
        if f.bot:
            line += f" | bot: {short(f.bot)}"
        more = len(self.failures) - 1
        return line + (f"  (+{more} more)" if more > 0 else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "brand": self.brand,
            "file": self.file,
            "passed": self.passed,
            "failures": [f.as_dict() for f in self.failures],
            "transcript": self.transcript,
            "tickets": self.tickets,
        }


def summary_line(results: Sequence[ScenarioResult]) -> str:
    passed = sum(1 for r in results if r.passed)
    return f"{passed} passed, {len(results) - passed} failed"


# --------------------------------------------------------------------------- running


class ScenarioRunner:
    """Runs scenarios through the real engine: one runtime for all, one throwaway SQLite database.

    The database lives in a temporary folder removed by close(), so running scenarios never
    touches the project's database; each scenario is a new conversation with its brand.
    """

    def __init__(
        self, settings: Settings, runtime: Any = None, *, progress: Callable[[str], None] = lambda _m: None
    ) -> None:
        from bot.engine import Assistant, build_runtime
        from bot.store import Database
        from bot.training import ensure_model

        if runtime is None:
            ensure_model(settings, auto_train=True, progress=progress)
            runtime = build_runtime(settings)
        self._tmp = tempfile.TemporaryDirectory(prefix="walletbot-test-")
        url = f"sqlite:///{Path(self._tmp.name) / 'walletbot.db'}"
        throwaway = settings.model_copy(update={"storage": settings.storage.model_copy(update={"database_url": url})})
        self.db = Database(url)
        try:
            self.db.migrate()
        except BaseException:
            self.close()
            raise
        self.assistant = Assistant(throwaway, runtime, self.db)
        self.leaves = ResolvedLeaves(runtime.content.flows)

    def __enter__(self) -> ScenarioRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.dispose()
        self._tmp.cleanup()

    def run_all(
        self, scenarios: Iterable[Scenario], on_result: Callable[[ScenarioResult], None] = lambda _r: None
    ) -> list[ScenarioResult]:
        results = []
        for sc in scenarios:
            results.append(self.run(sc))
            on_result(results[-1])
        return results

    def run(self, sc: Scenario) -> ScenarioResult:
        """One scenario as a new conversation. A `button:` turn presses the payload of the button
        with exactly that title in the previous reply; if none was offered the scenario stops
        there (and `final` is not checked). An error answer fails the turn and the next goes on."""
        result = ScenarioResult(sc.name, sc.brand, sc.file)
        try:
            conversation, _token = self.assistant.start_conversation(brand=sc.brand, channel="test")
        except WalletbotError as exc:  # an unknown brand
            result.failures.append(Failure(1, sc.turns[0].shown, f"cannot start the conversation: {exc}"))
            return result
        offered: list[dict[str, str]] = []
        flow_before: str | None = None
        for n, turn in enumerate(sc.turns, start=1):
            if turn.button is not None:
                match = [b for b in offered if b.get("title") == turn.button]
                if not match:
                    titles = [b.get("title") for b in offered]
                    result.failures.append(
                        Failure(n, turn.shown, f"button '{turn.button}' not offered (offered: {titles})")
                    )
                    return result
                send: dict[str, Any] = {"payload": match[0].get("payload")}
            else:
                send = {"text": turn.user}
            try:
                reply = self.assistant.handle(conversation, **send)
            except WalletbotError as exc:  # what `chat --jsonl` answers as an error object
                result.transcript.append({"turn": n, "input": turn.shown, "error": str(exc)})
                result.failures.append(Failure(n, turn.shown, f"bot answered an error: {exc}"))
                offered = []
                continue
            text = reply_text(reply)
            offered = reply_buttons(reply)
            result.transcript.append(
                {
                    "turn": n,
                    "input": turn.shown,
                    "text": text,
                    "buttons": [b.get("title") for b in offered],
                    "state": reply.get("state"),
                }
            )
            for message in check_turn(turn.expect, reply, self.leaves, flow_before):
                result.failures.append(Failure(n, turn.shown, message, text))
            flow_before = (reply.get("state") or {}).get("flow")
        result.tickets = self._tickets(conversation)
        result.failures += [Failure("final", "", message) for message in check_final(sc.final, result.tickets)]
        return result

    def _tickets(self, conversation: str) -> list[dict[str, Any]]:
        """The rows of `tickets` of this conversation, as `final` reads them."""
        from bot.store import get_ticket_for_conversation

        with self.db.session(readonly=True) as s:
            ticket = get_ticket_for_conversation(s, conversation)
            if ticket is None:
                return []
            return [
                {
                    "number": ticket.number,
                    "category": ticket.category,
                    "priority": str(ticket.priority),
                    "summary": ticket.summary or "",
                    "details": dict(ticket.details or {}),
                }
            ]


__all__ = [
    "Failure",
    "ResolvedLeaves",
    "Scenario",
    "ScenarioFileError",
    "ScenarioResult",
    "ScenarioRunner",
    "Turn",
    "check_final",
    "check_turn",
    "contains",
    "load_scenarios",
    "select",
    "squash",
    "summary_line",
]
