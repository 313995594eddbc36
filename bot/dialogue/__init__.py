"""The dialogue: what the bot does on each turn, given the conversation state and the NLU.

- `policy`: the turn's entry point: a button press or a typed message, sent to the part for it;
- `understanding`: what a message says besides its intent (yes/no, skip, a question, a contact);
- `routing`: a message when no step waits (start a checklist, answer from the FAQ, chat, clarify);
- `checklist`: walking a checklist (start, show a step, choose, go back, resume, the trail);
- `step_replies`: a typed reply while a step waits for its answer;
- `answers`: reading a typed answer to a checklist step (an option, or a move such as giving up);
- `faq_answers`: an FAQ answer, and the vote or "go on?" reply after it;
- `collecting`: asking and reading the details a ticket needs;
- `escalation`: the ticket: opening it at the right urgency and adding to it;
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
