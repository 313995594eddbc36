"""The dialogue: what the bot does on each turn, given the conversation state and the NLU.

- `policy`: the turn itself (routing, checklists, FAQ, feedback);
- `answers`: reading a typed answer to a checklist step (an option, or a move such as giving up);
- `escalation`: the ticket: opening it at the right urgency, asking what it lacks, adding to it;
- `turn`: what one turn reads and produces (messages, outcome, ticket callbacks);
- `state`: the conversation state, its version and defaults, and the public part of it.
"""

from bot.dialogue.policy import Policy
from bot.dialogue.state import fresh_state, public_state
from bot.dialogue.turn import Outcome, TicketInfo, TicketRequest, TicketUpdate, TurnResult

__all__ = [
    "Outcome",
    "Policy",
    "TicketInfo",
    "TicketRequest",
    "TicketUpdate",
    "TurnResult",
    "fresh_state",
    "public_state",
]
