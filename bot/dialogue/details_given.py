"""Details the user gives besides the one asked: in passing (昨天下午三点充的100元，用的银行卡),
unasked (a phone number typed while the amount was asked), as a list (今天早上 500 农行卡), or
as a correction (金额写错了，应该是250). A mixin of the Policy, the base of bot/dialogue/collecting.py.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOVE_CONFIDENCE
from bot.dialogue.turn import Turn
from bot.dialogue.understanding import CLAUSE_BREAK, Understanding
from bot.flows.model import Detail, Flow
from bot.guard import mask
from bot.nlu.entities import SaidDay, has_clock, said_day

CONTACT_ENTITIES = ("phone", "email", "contact")


class DetailsGiven(Understanding):
    if TYPE_CHECKING:

        def _detail_of(self, flow: Flow | None, name: str) -> Detail: ...

    def _said(self, collecting: dict[str, Any], name: str) -> SaidDay | None:
        """The day (and day period) the user named for this time detail without a clock time."""
        said = collecting.get("said", {}).get(name)
        return SaidDay(date.fromisoformat(said[0]), said[1]) if said else None

    def _read_detail(self, turn: Turn, collecting: dict[str, Any], name: str, entity: str, norm: str) -> str | None:
        """The asked detail in the answer, or None."""
        found = self.extractor.extract_one(entity, norm, now=turn.local_now, said=self._said(collecting, name))
        if found:
            return found["value"]
        return None

    def _take_volunteered(
        self, state: dict[str, Any], flow: Flow | None, collecting: dict[str, Any], norm: str, *, asked: str, turn: Turn
    ) -> bool:
        """Fill the details still to ask that the answer gives in passing; True if it gave any.

        Only entities the extractor finds on their own count (a bare "100" is an amount only
        when the amount is asked). A day without a clock time does not fill a time detail; it
        is kept as the day a later clock time falls on. A phone number or email fills a contact
        detail: masked in the state, unmasked only for the ticket.
        """
        taken = False
        for other in list(collecting["pending"]):
            entity = self._detail_of(flow, other).entity
            if other != asked and entity in CONTACT_ENTITIES and (contact := self._contact_found(turn, norm)):
                turn.result.protected[other] = contact[1]
                state["details"][other] = mask(contact[0], contact[1])
                collecting["pending"].remove(other)
                taken = True
                continue
            if other == asked or entity is None or entity in CONTACT_ENTITIES:
                continue
            # In a list of details (今天早上 500 农行卡) a bare number is the amount still to ask.
            listing = entity == "amount" and self._lists_details(turn, norm)
            found = self.extractor.extract_one(
                entity, norm, now=turn.local_now, said=self._said(collecting, other), bare=listing
            )
            if found is None:
                continue
            taken = True
            if entity == "time" and not has_clock(found["value"]):
                said = said_day(found["value"], norm[found["start"] : found["end"]])
                collecting.setdefault("said", {})[other] = [found["value"], said.period if said else None]
                continue
            state["details"][other] = found["value"]
            collecting["pending"].remove(other)
        return self._take_unasked(state, flow, collecting, norm, turn) or taken

    def _lists_details(self, turn: Turn, norm: str) -> bool:
        """The answer names details on their own (a day or time, a method, an order number)
        beside something else: it is a list of details, not a sentence."""
        found = self.extractor.extract(norm, now=turn.local_now)
        return bool(found) and len(CLAUSE_BREAK.split(norm.strip())) > 1

    def _take_unasked(
        self, state: dict[str, Any], flow: Flow | None, collecting: dict[str, Any], norm: str, turn: Turn
    ) -> bool:
        """Keep for the agent the details this checklist does not ask but the user gave anyway
        (a phone number, an amount or an order number typed while something else was asked);
        True if any. Each is stored under the flow's own name for that entity, else the
        entity's; a detail already given is left to `_take_correction`."""
        names_by_entity = {d.entity: d.name for d in (flow.details.values() if flow else []) if d.entity}
        taken = False
        contact = self._contact_found(turn, norm)
        if contact is not None:
            name = next((n for e, n in names_by_entity.items() if e in CONTACT_ENTITIES), "contact")
            if name not in collecting["pending"] and state["details"].get(name) is None:
                turn.result.protected[name] = contact[1]
                state["details"][name] = mask(contact[0], contact[1])
                taken = True
        for found in self.extractor.extract(norm, now=turn.local_now):
            entity = found["entity"]
            if entity in CONTACT_ENTITIES or (entity == "time" and not has_clock(found["value"])):
                continue
            name = names_by_entity.get(entity, entity)
            if name in collecting["pending"] or state["details"].get(name) is not None:
                continue
            state["details"][name] = found["value"]
            taken = True
        return taken

    def _take_correction(
        self, state: dict[str, Any], turn: Turn, flow: Flow | None, collecting: dict[str, Any], text: str, norm: str
    ) -> bool:
        """金额写错了，应该是250: a correction of a detail already given replaces it; True if one did."""
        kind, confidence = self.read_reply(text)[0]
        if kind != "correct" or confidence < MOVE_CONFIDENCE:
            return False
        corrected = False
        for name, value in list(state["details"].items()):
            entity = self._detail_of(flow, name).entity
            if name in collecting["pending"] or entity is None or entity in CONTACT_ENTITIES or value is None:
                continue
            found = self.extractor.extract_one(entity, norm, now=turn.local_now, bare=False)
            if found is None and entity == "amount":  # 应该是250: in a correction a bare number is the amount
                found = self.extractor.extract_one(entity, norm, now=turn.local_now)
            if found is not None and found["value"] != value:
                state["details"][name] = found["value"]
                corrected = True
        if corrected:
            turn.say("detail_corrected")
        return corrected

    def _plain_words(self, turn: Turn, text: str, norm: str) -> bool:
        """An answer that may be kept in the user's words: no entity the extractor can read and
        nothing masked (a phone or card number hidden by the guard is no amount)."""
        return not self.extractor.extract(norm, now=turn.local_now) and text == (
            turn.raw_text if turn.raw_text is not None else text
        )
