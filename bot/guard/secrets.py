"""Finding secrets and personal data in a message (:func:`scan`).

Why one module of ~400 lines: it is one detector. Every rule's findings compete for the same
characters and `_resolve_overlaps` settles them in one pass.

Detection is rule-based, so it is fast and explainable:

- secrets: a trigger word (密码, 验证码, CVV …) followed by a value of the right shape;
- personal data: digit runs classified by length, grouping and checksum (Luhn for cards,
  GB 11643-1999 for ID numbers, the numbering plan for mobiles), plus the words just before the
  run (账号 makes an account number, 订单号 makes a harmless order number).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType

from bot.guard.checksums import is_luhn_valid, is_valid_id_number
from bot.guard.contact import EMAIL, MOBILE, is_mainland_mobile
from bot.guard.text import ci, fold_width, visible

SECRET_KINDS: frozenset[str] = frozenset({"password", "payment_password", "verification_code", "cvv"})
# A full card number is personal, not a secret (it is masked like a phone number), but the guides
# say never to hand it over: typing one earns the same warning as a secret.
_CARD_LABEL = re.compile(r"(?:卡号|卡號|银行卡|銀行卡|信用卡|储蓄卡|儲蓄卡|card)", re.IGNORECASE)

PERSONAL_KINDS: frozenset[str] = frozenset({"card_number", "id_number", "phone", "email", "account_number"})

_SECRET_LABELS = MappingProxyType(
    {
        "password": "[密码已隐藏]",
        "payment_password": "[支付密码已隐藏]",
        "verification_code": "[验证码已隐藏]",
        "cvv": "[CVV已隐藏]",
    }
)

# When two candidate findings overlap the lower number wins: a secret beats personal data
# (under-describing a phone number is harmless, leaking a password is not), and an email beats
# the digit run inside its local part.
_PRIORITY = MappingProxyType(
    {
        "verification_code": 0,
        "cvv": 1,
        "payment_password": 2,
        "password": 3,
        "email": 4,
        "id_number": 5,
        "card_number": 6,
        "phone": 7,
        "account_number": 8,
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value: its kind and its span in the text given to :func:`scan`."""

    kind: str
    start: int
    end: int


# Nothing can be found in a message without a digit, an @ or a password word: bail out early.
_QUICK = re.compile(r"[0-9@\uff10-\uff19\uff20]|密|" + ci("password", "passwd", "pwd"))

# --- secrets: trigger word + value ---------------------------------------------------------

# A few Chinese characters allowed between the trigger and 是/为 ("密码应该是", "验证码收到了，是").
# Characters that introduce another noun (号, 账, 卡, 机 …) end the gap, so "密码忘了，手机号是…"
# does not turn a phone number into a password.
_GAP_CHAR = r"(?:(?![号號账帳帐賬户戶卡单單额額钱錢元机機电電码碼邮郵错錯])[\u4e00-\u9fff])"
_GAP = _GAP_CHAR + "{0,6}?"
# 是/为/：, and 成 for "改成了…"; the value after it must start with an ASCII character, so
# "密码是什么意思" or "密码成功修改" never yield a value.
_CONNECTOR = r"\s*(?:是|为|為|成|[=＝:：]|[Ii][Ss](?![A-Za-z]))了?\s*[:：]?\s*"
# Starts with an ASCII character; may hold accented Latin letters (Pässwörd99); up to 64
# characters, so a long password is hidden whole instead of leaving its tail in clear.
_PW_VALUE = r"[A-Za-z0-9!#$%^&*@._+=~?\-][A-Za-z0-9!#$%^&*@._+=~?\-\u00c0-\u024f]{3,63}"

# Each value regex starts with a lookahead on its possible first characters: it lets the engine
# skip to candidate positions instead of trying every alternative at every character.
# The value groups, by how plainly the message states it:
#   v1  密码是 Abc123              right after 是/为/：
#   v3  密码是我生日 900307        after 是 and a few more words
#   v4  密码忘了，好像是 147369    after a comma and 是
#   v2  密码 Abc123                after the word only
_PASSWORD = re.compile(
    r"(?=[密口Pp])(?:密码|密碼|口令|(?<![A-Za-z])"
    + ci("password", "passwd", "pwd")
    + r"|(?<![A-Za-z])(?P<pin>"
    + ci("pin")
    + r")(?:码|碼)?)\s*"
    r"(?:" + _GAP + _CONNECTOR + r"(?:(?P<v1>" + _PW_VALUE + r")"
    r"|" + _GAP_CHAR + r"{1,6}?\s*(?P<v3>" + _PW_VALUE + r"))"
    r"|" + _GAP + r"[,，]\s*" + _GAP + _CONNECTOR + r"(?P<v4>" + _PW_VALUE + r")"
    r"|(?P<v2>" + _PW_VALUE + r"))"
)
# Read just before the password word: 支付密码, 交易的密码, 银行卡密码 are payment passwords (a card
# PIN is one too). Looked up separately because a leading optional group would make the engine
# try it at every position of the message.
_PAY_PREFIX = re.compile(r"(?:支付|交易|付款|取款|提现|提現|提款|转账|轉賬|轉帳|银行卡|銀行卡|信用卡|卡)的?$")
_CODE_WORD = (
    r"(?:验证码|驗證碼|校验码|校驗碼|动态码|動態碼|动态密码|動態密碼|短信码|"
    r"确认码|確認碼|授权码|授權碼|(?<![A-Za-z])" + ci("otp", "verification code", "verify code") + r"(?![A-Za-z]))"
)
# 码 alone, as users shorten 验证码 (短信到了 码是730461): not inside another word with 码 (密码,
# 二维码, 号码, 条码, 页码, 编码, 代码…).
_BARE_CODE_WORD = r"(?<![密維维号號条條形页頁编編代源内內暗邮郵区區])(?:码|碼)(?=是|为|為|[:：])"
_CODE = re.compile(
    r"(?=[验驗校动動短确確授OoVv码碼])"
    + f"(?:{_CODE_WORD}|{_BARE_CODE_WORD})"
    + r"\s*(?:"
    + _GAP
    + r"[,，]?\s*"
    + _CONNECTOR
    + r"|(?:来了|來了|到了|收到了|发来了|發來了)[,，。!！\s]*"  # 验证码来了 382915
    + r"|[:：=＝#]?\s*)[【\[(（]?"
    r"(?P<v>[0-9]{3}[ \-][0-9]{3}|[0-9]{4,8})(?![0-9A-Za-z])"
)
# "837261是验证码": the value before the word.
_CODE_BEFORE = re.compile(
    r"(?=[0-9])(?<![0-9A-Za-z.])(?P<v>[0-9]{4,8})(?![0-9A-Za-z])\s*(?:就?是|为|為)?"
    r"(?:我的|刚才的|剛才的|收到的|刚收到的|剛收到的|新的|这个|這個)?(?:短信|手机|手機)?" + _CODE_WORD
)
_CVV = re.compile(
    r"(?=[Cc安卡背])(?:(?<![A-Za-z])" + ci("cvv", "cvn", "cvc") + r"2?(?:码|碼|号|號)?"
    r"|安全码|安全碼"
    r"|卡?背(?:后|後|面)的?(?:那)?(?:三|3)位(?:数字|數字|数|數|码|碼)?|背面的?(?:数字|數字|码|碼))"
    r"\s*(?:" + _GAP + _CONNECTOR + r"|[:：=＝]?\s*)(?P<v>[0-9]{3,4})(?![0-9A-Za-z])"
)
# Substrings (of the lower-cased text) without which a family's value regexes cannot match:
# plain `in` tests are far cheaper than running those regexes over every message.
_TRIGGER_WORDS = MappingProxyType(
    {
        "password": ("密", "口令", "pass", "pwd", "pin"),
        "verification_code": ("码", "碼", "otp", "code"),
        "cvv": ("安全", "背", "cv"),
    }
)
_VALUE_RULES = (
    (_CODE, "verification_code"),
    (_CODE_BEFORE, "verification_code"),
    (_CVV, "cvv"),
)
# A number followed by a unit is an amount, a date or a count, not a secret ("密码是2020年设的").
_UNIT_AFTER = re.compile(
    r"\s*(?:元|块|塊|圆|圓|美元|刀|" + ci("rmb") + r"|年|月|日|号|號|点|點|时|時|分|秒|次|位|"
    r"个|個|天|笔|筆|张|張|岁|歲|万|萬|积分|積分|期|倍|人|%)"
)
_TRAILING_PUNCT = ".,?~"
_CLAUSE_END = frozenset(".,?!;~，。？！；、 \n")

# --- personal data -------------------------------------------------------------------------

# The shared e-mail shape (bot/guard/contact.py), not glued to more address characters.
_EMAIL = re.compile(r"(?=[A-Za-z0-9])(?<![A-Za-z0-9._%+\-])" + EMAIL + r"(?![A-Za-z0-9])")
# A run of digits, optionally grouped by single spaces or dashes ("6222 0212 …", "138-1234-1234"),
# optionally "+" in front (+86) and X at the end (ID numbers). Not glued to letters (order ids
# like TX2023…), not the decimal part of an amount.
_RUN = re.compile(
    r"(?=[+0-9])(?<![0-9A-Za-z+])(?<![0-9]\.)\+?[0-9]+(?:[ \-][0-9]+)*(?:(?<=[0-9])[Xx])?"
    r"(?![0-9A-Za-z])(?!\.[0-9])"
)
# A run grouped with dots ("6222.0212.3456.7890.128", "138.1234.5678"): three groups or more,
# so decimals (12345.67), dates (2026.11.20) and versions (10.2.3) never match. Its dots are read
# as spaces, and a dotted run is never a code (it reads like a date, an address or a version).
_DOTTED_RUN = re.compile(
    r"(?=[0-9])(?<![0-9A-Za-z.])[0-9]{3,6}(?:\.[0-9]{3,9}){2,4}(?:(?<=[0-9])[Xx])?(?![0-9A-Za-z])(?!\.[0-9])"
)
_CONTEXT_CHARS = 16
_ORDER_CONTEXT = re.compile(
    r"(?:订单|訂單|单号|單號|交易|流水|编号|編號|运单|運單|快递|快遞|批次|参考号|參考號|凭证|憑證|"
    r"商户|商戶|工单|工單|发票|發票|物流|票号|票號)[号號码碼]?(?:" + ci("id") + r"|编号|編號)?"
    r"\s*(?:[\u4e00-\u9fff]{0,3}?(?:是|为|為))?\s*[:：=＝#]?\s*$"
)
_ACCOUNT_CONTEXT = re.compile(
    r"(?:账号|賬號|帐号|帳號|账户|賬戶|帐户|帳戶|户号|戶號|卡号|卡號|" + ci("account", "acct") + r")"
    r"(?:[\u4e00-\u9fff]{0,4}?(?:是|为|為))?\s*[:：=＝#]?\s*$"
)
# With expecting_code a bare number is a code, unless the words before it make it an amount, a
# tail of a card or phone number (尾号 1234) or a service number (客服电话 95188).
_NOT_CODE_BEFORE = re.compile(
    r"(?:[¥$]|" + ci("rmb") + r"|金额|金額|转了|轉了|充了|付了|花了|扣了|提了|提现|提現|充值|"
    r"余额|餘額|价格|價格|共|约|約|大约|大約|第|尾号|尾號|后四位|後四位|后4位|後4位|末四位|位|电话|電話|热线|熱線|"
    r"工号|工號|编号|編號|" + ci("qq") + r"|积分|積分)\s*$"
)
_GROUP = re.compile(r"[0-9]+[Xx]?")
_MOBILE = re.compile(MOBILE)
_NOT_ID_CHAR = re.compile(r"[^0-9Xx]")


# --- scanning -----------------------------------------------------------------------------


def scan(text: str, *, expecting_code: bool = False) -> list[Finding]:
    """All sensitive findings, sorted by start, non-overlapping. expecting_code=True when the
    bot's previous message asked about a code, so a bare 4-8 digit number counts as a code."""
    if _QUICK.search(text) is None:
        return []
    seen, positions = visible(text)
    found = _scan_visible(seen, expecting_code)
    if positions is None:
        return found
    return [Finding(f.kind, positions[f.start], positions[f.end - 1] + 1) for f in found]


def _scan_visible(text: str, expecting_code: bool) -> list[Finding]:
    folded = fold_width(text)
    candidates = [
        *_secret_findings(folded),
        *_email_findings(folded),
        *_number_findings(folded, expecting_code),
    ]
    kept = _resolve_overlaps(candidates)
    kept += _secret_repeats(folded, kept)
    return sorted(kept, key=lambda finding: finding.start)


def _secret_findings(text: str) -> Iterator[Finding]:
    """Values stated after (or, for codes, before) a secret trigger word."""
    lowered = text.lower()
    present = {family for family, words in _TRIGGER_WORDS.items() if any(word in lowered for word in words)}
    if "password" in present:
        for match in _PASSWORD.finditer(text):
            group = next(name for name in ("v1", "v2", "v3", "v4") if match.group(name))
            paid = _PAY_PREFIX.search(text, max(0, match.start() - 4), match.start())
            kind = "payment_password" if paid or match.group("pin") else "password"
            # Only "密码是 abcdef" states a letters-only password plainly; after a bare space or
            # more words ("密码是我生日 900307") a value without a digit is usually prose.
            finding = _secret_value(text, kind, *match.span(group), loose=group != "v1")
            if finding is not None:
                yield finding
    for regex, kind in _VALUE_RULES:
        if kind not in present:
            continue
        for match in regex.finditer(text):
            finding = _secret_value(text, kind, *match.span("v"), loose=False)
            if finding is not None:
                yield finding


def _secret_value(text: str, kind: str, start: int, end: int, *, loose: bool) -> Finding | None:
    """Trim sentence punctuation and reject values that are amounts, dates or plain words.

    ``loose`` marks a value not right after 是/为/：; without a digit it only counts when it is
    long and ends the clause ("登录密码 qwerty。"), not in "密码 APP 里怎么改".
    """
    while end > start and text[end - 1] in _TRAILING_PUNCT:
        end -= 1
    value = text[start:end]
    if len(value) < 3 or (kind in ("password", "payment_password") and len(value) < 4):
        return None
    if not any(char.isalnum() for char in value):
        return None
    if loose and not any(char.isdigit() for char in value):
        if len(value) < 6 or (end < len(text) and text[end] not in _CLAUSE_END):
            return None
    if value.isdigit() and _UNIT_AFTER.match(text, end):
        return None
    return Finding(kind, start, end)


def _email_findings(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield Finding("email", *match.span())


def _number_findings(text: str, expecting_code: bool) -> Iterator[Finding]:
    """Classify every digit run; a grouped run that is nothing as a whole is tried group by
    group ("13812341234 6222…" is a phone and a card, not one odd number)."""
    # Personal numbers have at least 10 digits and codes at least 4: shorter runs (amounts,
    # counts, times) are skipped before any context lookup.
    shortest = 4 if expecting_code else 10
    dotted = [match.span() for match in _DOTTED_RUN.finditer(text)] if "." in text else []
    if dotted:
        chars = list(text)
        for start, end in dotted:
            chars[start:end] = text[start:end].replace(".", " ")
        text = "".join(chars)  # same length: spans stay valid for the caller's text
    for match in _RUN.finditer(text):
        start, end = match.span()
        if end - start < shortest:
            continue
        if _ORDER_CONTEXT.search(text, max(0, start - _CONTEXT_CHARS), start):
            continue  # order, transaction and tracking numbers are not personal data
        code = expecting_code and not any(start < d_end and d_start < end for d_start, d_end in dotted)
        kind = _run_kind(text, start, end, code)
        if kind is not None:
            yield Finding(kind, start, end)
            continue
        # Dash-grouped runs are dates and references ("2026-11-20"): their parts are no codes.
        group_code = code and "-" not in match.group()
        for group in _GROUP.finditer(match.group()):
            group_start, group_end = start + group.start(), start + group.end()
            if group_end - group_start == end - start:
                break  # ungrouped run, already tried whole
            if group_end - group_start < shortest:
                continue
            kind = _run_kind(text, group_start, group_end, group_code)
            if kind is not None:
                yield Finding(kind, group_start, group_end)


def _run_kind(text: str, start: int, end: int, expecting_code: bool) -> str | None:
    """The kind of the digit run text[start:end], or None when it is not sensitive."""
    raw = text[start:end]
    plus = raw.startswith("+")
    digits = raw.lstrip("+").replace(" ", "").replace("-", "")
    separators = _separator_offsets(raw)
    # 6-8-4 is how IDs are printed; some users also split the birth date (110101 1990 0307 1233).
    if len(digits) == 18 and separators <= {6, 10, 14} and is_valid_id_number(digits):
        return "id_number"
    if not digits.isdigit():
        return None  # a trailing X only ever belongs to an ID number
    if _is_phone(digits, separators, plus):
        return "phone"
    if plus:
        return None
    if 13 <= len(digits) <= 19 and _card_grouping_ok(separators) and is_luhn_valid(digits):
        return "card_number"
    if len(digits) >= 10 and _ACCOUNT_CONTEXT.search(text, max(0, start - _CONTEXT_CHARS), start):
        return "account_number"
    if expecting_code and _looks_like_code(text, start, end, digits):
        return "verification_code"
    return None


def _separator_offsets(raw: str) -> set[int]:
    """Where the groups of a run split, counted in digits: "138 1234 1234" gives {3, 7}."""
    offsets: set[int] = set()
    count = 0
    for char in raw:
        if char in " -":
            offsets.add(count)
        elif char != "+":
            count += 1
    return offsets


def _is_phone(digits: str, separators: set[int], plus: bool) -> bool:
    """A mainland mobile number, bare or after 86/+86/0086, grouped 3-4-4 if grouped at all."""
    if len(digits) == 13 and digits.startswith("86"):
        prefix = 2
    elif len(digits) == 15 and digits.startswith("0086") and not plus:
        prefix = 4
    elif len(digits) == 11 and not plus:
        prefix = 0
    else:
        return False
    allowed = {prefix, prefix + 3, prefix + 7} - {0}
    if _MOBILE.fullmatch(digits, prefix) is None or not separators <= allowed:
        return False
    return is_mainland_mobile(digits[prefix:])


def _card_grouping_ok(separators: set[int]) -> bool:
    """Groups of four (the usual way cards are written), 4-6-5 (Amex) or 6 + rest (BIN first)."""
    return all(offset % 4 == 0 for offset in separators) or separators in ({4, 10}, {6})


def _looks_like_code(text: str, start: int, end: int, digits: str) -> bool:
    """A bare 4-8 digit answer that is not an amount, a date or time part, or a count."""
    raw = text[start:end]
    if not 4 <= len(digits) <= 8 or "-" in raw:
        return False
    # "837 261" is a code typed in two halves; "20 14" in "11/20 14:35" is a date and a time.
    if any(len(group) < 3 for group in raw.split(" ")):
        return False
    if text[start - 1 : start] in ("/", ":") or text[end : end + 1] in ("/", ":"):
        return False
    if _UNIT_AFTER.match(text, end):
        return False
    return _NOT_CODE_BEFORE.search(text, max(0, start - _CONTEXT_CHARS), start) is None


def _resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep the highest-priority finding wherever candidates overlap."""
    kept: list[Finding] = []
    ranked = sorted(candidates, key=lambda f: (_PRIORITY[f.kind], f.start, f.start - f.end))
    for candidate in ranked:
        if not any(_overlaps(candidate, other) for other in kept):
            kept.append(candidate)
    return kept


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def _secret_repeats(text: str, kept: list[Finding]) -> list[Finding]:
    """Other whole-token occurrences of a secret already found ("密码是abc123，就是abc123"), so
    a repeated secret is hidden everywhere, not only after its trigger word."""
    extra: list[Finding] = []
    for finding in kept:
        value = text[finding.start : finding.end]
        if finding.kind not in SECRET_KINDS or text.count(value) < 2:
            continue
        position = text.find(value)
        while position != -1:
            candidate = Finding(finding.kind, position, position + len(value))
            if _is_whole_token(text, candidate) and not any(_overlaps(candidate, other) for other in (*kept, *extra)):
                extra.append(candidate)
            position = text.find(value, position + 1)
    return extra


def _is_whole_token(text: str, finding: Finding) -> bool:
    before = text[finding.start - 1] if finding.start else ""
    after = text[finding.end] if finding.end < len(text) else ""
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def warns(text: str, finding: Finding) -> bool:
    """The user should be told not to send this: a secret, a full card number, or a long number
    labelled as a card's (卡号是6217 0012 3456 7890 fails the checksum, but is meant as one)."""
    if finding.kind in SECRET_KINDS or finding.kind == "card_number":
        return True
    before = text[max(0, finding.start - _CONTEXT_CHARS) : finding.start]
    return finding.kind == "account_number" and _CARD_LABEL.search(before) is not None
