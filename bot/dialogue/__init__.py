"""The dialogue: what the bot does on each turn, given the conversation state and the NLU.

- `policy`: the turn itself (routing, flows, FAQ, feedback, tickets);
- `answers`: reading a typed answer to a checklist step (an option, or a move such as giving up);
- `state`: the conversation state, its defaults and the public part of it.
"""

from bot.dialogue.policy import Outcome, Policy, TicketInfo, TicketRequest, TicketUpdate, TurnResult
from bot.dialogue.state import fresh_state, public_state

__all__ = ["Outcome", "Policy", "TicketInfo", "TicketRequest", "TicketUpdate", "TurnResult", "fresh_state", "public_state"]
