"""Checksums of card and ID numbers, from python-stdnum.

``stdnum.luhn`` checks card numbers; ``stdnum.cn.ric`` computes the GB 11643-1999 check
character and reads the birth date of a mainland resident ID. The province list and the
birth-date range stay here: ``stdnum.cn.ric.is_valid`` also requires a county code from its own
list, which would leave unmasked the IDs of counties renamed or created after its data.
"""

import datetime

from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

# First two digits of a mainland ID: the province-level division (GB/T 2260).
_ID_PROVINCES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    }
)


def is_luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check used by every card number."""
    return digits.isascii() and digits.isdigit() and luhn.is_valid(digits)


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (0-9 or X) for the first 17 digits of an ID number."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"An ID number body must be 17 digits, got {first17!r}.")
    return ric.calc_check_digit(first17 + "0")  # stdnum reads the body of a full 18-character number


def is_valid_id_number(value: str) -> bool:
    """True for an 18-character mainland ID with a known province, a real birth date in the past
    and a matching check character; random 18-digit numbers rarely pass all three."""
    if len(value) != 18 or not value.isascii() or not value[:17].isdigit():
        return False
    if value[:2] not in _ID_PROVINCES:
        return False
    if id_check_char(value[:17]) != value[17].upper():
        return False
    try:
        born = ric.get_birth_date(value)
    except ValidationError:
        return False
    return datetime.date(1900, 1, 1) <= born <= datetime.date.today()
