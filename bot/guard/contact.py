"""The one set of contact patterns: the guard masks what they find, bot/nlu/entities.py extracts it.

Kept here, once, so that what the bot reads as a phone number or an e-mail address and what it
hides before storing are the same shapes. The regexes find candidates; :func:`is_mainland_mobile`
checks a candidate against the numbering plan (``phonenumbers``), which knows which 1xx
prefixes are mobile ranges (140, data-only SIMs, is not).
"""

from functools import lru_cache

import phonenumbers

# An e-mail address: local part starting with a letter or digit, dotted domain, 2-24 letter TLD.
EMAIL = r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
# The 11 digits of a mainland mobile number.
MOBILE = r"1[3-9][0-9]{9}"
# A mobile number as people type it: optional +86 / 0086 / 86, groups 3-4-4 split by a space or
# a dash, not inside a longer digit run.
PHONE = r"(?<![0-9+])(?:(?:\+|00)?86[\s\-]?)?1[3-9][0-9][\s\-]?[0-9]{4}[\s\-]?[0-9]{4}(?![0-9])"

_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


@lru_cache(maxsize=4096)
def is_mainland_mobile(national: str) -> bool:
    """True when the 11 digits ``national`` are a mainland China mobile number in use.

    >>> is_mainland_mobile("13812341234"), is_mainland_mobile("14012345678")
    (True, False)
    """
    if len(national) != 11 or not (national.isascii() and national.isdigit()):
        return False
    try:
        number = phonenumbers.parse("+86" + national)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES
