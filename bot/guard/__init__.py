"""Sensitive-data guard: find secrets and personal data in a message, redact them.

Why this exists: transcripts are stored and shown to support agents, so a password or a card
number typed by a user (or pasted by an agent into a note) must never reach the database in
clear. Secrets (passwords, payment passwords, verification codes, CVV) are replaced by a fixed
label whatever their value; personal data (card, ID and phone numbers, emails, account numbers)
is masked keeping a hint an agent can use to confirm identity with the user.

The parts:

- :mod:`bot.guard.secrets`: :func:`scan`, the rules that find values (``Finding``: a kind and a
  span, never the value);
- :mod:`bot.guard.mask`: :func:`redact` and :func:`mask`;
- :mod:`bot.guard.checksums`: Luhn and GB 11643-1999 (python-stdnum);
- :mod:`bot.guard.contact`: the phone and e-mail patterns shared with bot/nlu/entities.py, and
  mobile validation (phonenumbers);
- :mod:`bot.guard.text`: full-width folding and invisible characters, shared with the scam
  detector (:mod:`bot.safety.scam`).
"""

from bot.guard.checksums import id_check_char, is_luhn_valid, is_valid_id_number
from bot.guard.mask import mask, redact
from bot.guard.secrets import PERSONAL_KINDS, SECRET_KINDS, Finding, scan, warns

__all__ = [
    "PERSONAL_KINDS",
    "SECRET_KINDS",
    "warns",
    "Finding",
    "id_check_char",
    "is_luhn_valid",
    "is_valid_id_number",
    "mask",
    "redact",
    "scan",
]
