"""What may be stored and shown: secrets replaced by a label, personal data masked with a hint."""

import re
from collections.abc import Callable
from types import MappingProxyType

from bot.guard.secrets import _SECRET_LABELS, PERSONAL_KINDS, SECRET_KINDS, Finding, scan
from bot.guard.text import fold_width

_NOT_ID_CHAR = re.compile(r"[^0-9Xx]")


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """Text safe to store and show. Secrets are replaced by a fixed label whatever their value:
    password → [密码已隐藏], payment_password → [支付密码已隐藏], verification_code → [验证码已隐藏],
    cvv → [CVV已隐藏]. Personal data is masked keeping a hint: phone 13812341234 → 138****1234,
    card 6222021234567890128 or with spaces → 6222 **** **** 0128 (first 4, last 4),
    id number → 1101**********123X (first 4, last 4), email zhang.san@example.com → z***@example.com,
    account_number → first 2 + **** + last 4. If findings is None, scan(text) is used.

    Raises:
        ValueError: a finding lies outside the text or overlaps another one.
    """
    if findings is None:
        findings = scan(text)
    parts: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < position or finding.end > len(text) or finding.start >= finding.end:
            raise ValueError(
                f"Cannot redact {finding!r}: it overlaps another finding or lies outside "
                f"the text of {len(text)} characters."
            )
        parts.append(text[position : finding.start])
        parts.append(mask(finding.kind, text[finding.start : finding.end]))
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def mask(kind: str, value: str) -> str:
    """The stored/shown form of one value of ``kind`` (see :func:`redact`).

    Raises:
        ValueError: ``kind`` is not one of SECRET_KINDS or PERSONAL_KINDS.
    """
    if kind in SECRET_KINDS:
        return _SECRET_LABELS[kind]
    masker = _MASKERS.get(kind)
    if masker is None:
        known = ", ".join(sorted(SECRET_KINDS | PERSONAL_KINDS))
        raise ValueError(f"Cannot mask unknown kind {kind!r}; expected one of: {known}.")
    return masker(fold_width(value))


def _keep_ends(value: str, head: int, tail: int, middle: str) -> str:
    """head + middle + tail characters, or only stars when too little would stay hidden."""
    if len(value) < head + tail + 4:
        return "****"
    return f"{value[:head]}{middle}{value[-tail:]}"


def _mask_phone(value: str) -> str:
    national = _NOT_ID_CHAR.sub("", value)[-11:]
    return _keep_ends(national, 3, 4, "****")


def _mask_card(value: str) -> str:
    return _keep_ends(_NOT_ID_CHAR.sub("", value), 4, 4, " **** **** ")


def _mask_id(value: str) -> str:
    return _keep_ends(_NOT_ID_CHAR.sub("", value).upper(), 4, 4, "*" * 10)


def _mask_account(value: str) -> str:
    return _keep_ends(_NOT_ID_CHAR.sub("", value), 2, 4, "****")


def _mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


_MASKERS: MappingProxyType[str, Callable[[str], str]] = MappingProxyType(
    {
        "phone": _mask_phone,
        "card_number": _mask_card,
        "id_number": _mask_id,
        "account_number": _mask_account,
        "email": _mask_email,
    }
)
