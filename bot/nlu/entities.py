"""Entity extraction: amounts, times, order numbers, phones, emails and payment methods.

Why one module of ~670 lines: it is one grammar. The priority order of the combined expression
is the design, and the readers below decode its named groups; apart, the two would drift.

The entities a support flow collects have rigid surface forms (``100元``, ``昨天下午三点``,
``订单号 2026112212345678``), so rules beat a statistical tagger here: they need no training
data, give exact spans and normalised values, and are easy to extend when a test fails.

One combined regular expression scans the text once, left to right. Its alternatives are ordered
by priority (email, order number after a keyword, phone, bare long order number, time, amount,
payment method), so at any position the most specific reading wins and the digits of a phone, an
order number or a date are consumed before the amount rule could see them. That makes the result
non-overlapping and sorted by construction.

Values:

- amount: a plain decimal string without trailing zeros ("100", "99.5", "15000").
- time: "YYYY-MM-DD", or "YYYY-MM-DD HH:MM" when a clock time is given, relative to ``now``.
- order_id: the id as written; phone: the 11 digits; email: the address;
  method: the canonical name from the ``methods`` map.

The input must already be normalised (NFKC, Simplified Chinese, Latin lower case, see
``bot.nlu.normalize``); spans index into exactly that string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import Final, NamedTuple, TypedDict

from bot.guard.contact import EMAIL, PHONE


class Entity(TypedDict):
    """One extracted entity, the shape `walletbot parse` prints."""

    entity: str  # "amount" | "time" | "order_id" | "phone" | "email" | "method"
    value: str  # normalised value, see the module docstring
    start: int  # span [start, end) in the text passed to extract()
    end: int


ENTITY_KINDS: Final = ("amount", "time", "order_id", "phone", "email", "method")
# extract_one() also accepts "contact": when the bot asks how to reach the user, either will do.
LOOKUP_KINDS: Final = (*ENTITY_KINDS, "contact")

# --------------------------------------------------------------------------- Chinese numerals

_CN_DIGIT: Final = MappingProxyType(
    {
        "零": 0,
        "〇": 0,
        "一": 1,
        "壹": 1,
        "二": 2,
        "贰": 2,
        "两": 2,
        "三": 3,
        "叁": 3,
        "四": 4,
        "肆": 4,
        "五": 5,
        "伍": 5,
        "六": 6,
        "陆": 6,
        "七": 7,
        "柒": 7,
        "八": 8,
        "捌": 8,
        "九": 9,
        "玖": 9,
    }
)
# Two digits in a row without a unit between them ("两三", "三四") give a range, not a number.
_CN_RANGE: Final = re.compile(f"[{''.join(d for d, v in _CN_DIGIT.items() if v)}]{{2}}")


@cache
def _cn2an() -> Callable[[str, str], object]:
    """cn2an's converter, imported on first use (its import takes a quarter of a second)."""
    import cn2an

    convert: Callable[[str, str], object] = cn2an.cn2an
    return convert


def cn_to_int(text: str) -> int | None:
    """Value of a Chinese numeral, or None when it is not one whole number.

    Read by cn2an in its "normal" mode, which takes colloquial abbreviations: a digit right after
    a unit means the next lower unit ("两千五" is 2500, "一万二" is 12000), except after 零
    ("一百零五" is 105). Two digits in a row ("两三") are a range, not a number, so they are refused
    (cn2an would read them digit by digit, as 23).
    """
    if not text or _CN_RANGE.search(text):
        return None
    try:
        value = _cn2an()(text, "normal")
    except ValueError:  # not a numeral at all ("万", "百", "十一十")
        return None
    return value if isinstance(value, int) else None


def _to_number(text: str) -> Decimal | None:
    """Arabic ("1,000.5") or Chinese ("两千五") numeral as a Decimal."""
    if text[0].isdigit():
        return Decimal(text.replace(",", ""))
    value = cn_to_int(text)
    return None if value is None else Decimal(value)


def _plain(value: Decimal) -> str:
    """ "100", "99.5", "15000": no exponent, no trailing zeros, as the contract wants."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --------------------------------------------------------------------------- patterns
# Built from small named pieces; group names are unique across the combined pattern, prefixed
# by the kind they belong to (a_ amount, t_ time, o_ order).

_DIGITS_CN = "零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖"
_UNITS_CN = "十拾百佰千仟万亿"
# A Chinese amount starts with a digit or 十, so 千万 ("by all means") and 万一 ("in case") stay words.
_CN_AMOUNT = f"[{_DIGITS_CN}十拾][{_DIGITS_CN}{_UNITS_CN}]*"
_CN_AMOUNT_2 = f"[{_DIGITS_CN}十拾][{_DIGITS_CN}{_UNITS_CN}]+"
_CN_SMALL = "[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十]?[零〇一二两三四五六七八九十]?"
# Arabic number; never the middle of a longer digit run, so phone and order digits stay whole,
# and never the visible part of a masked number (138****5678, 6222 **** **** 0128).
_NUM = r"(?<!\d)(?<!\d[.,])(?<!\*)(?<!\*\s)(?:\d{1,3}(?:,\d{3})+|\d{1,9})(?:\.\d+)?(?!\d)(?!\s?\*)"
_MULT = "百万|千万|万|千|百|k|w"
_UNIT = "块钱|块(?!儿)|元(?![旦宵素件器])|圆|rmb|cny|人民币"
# What may not follow a bare number for it to be an amount: more digits, dates, clock times,
# counts (3次, 2笔), percentages and foreign currencies (美元).
_NOT_AMOUNT_AFTER = (
    f"(?:[\\d{_DIGITS_CN}{_UNITS_CN}年月日号点时分秒次个笔天周岁倍条张位台人项遍期单页楼层级字步米克美港欧%‰]"
    r"|小时|[.:/\-]\d)"
)
# Words after which a bare number is an amount: "充了100", "金额是100", "扣了我50".
_TRIGGERS = (
    "金额",
    "充值",
    "支付",
    "付款",
    "转账",
    "转入",
    "转出",
    "提现",
    "扣款",
    "扣费",
    "退款",
    "花了",
    "交了",
    "共计",
    "合计",
    "一共",
    "总共",
    "总计",
    "充",
    "付",
    "转",
    "提",
    "扣",
    "退",
    # money gone: "少了200", "被刷了680", "差50", "损失了300"
    "损失",
    "少",
    "刷",
    "差",
    "一笔",
    # per-charge amounts: "每次99", "每笔50"
    "每次",
    "每笔",
)
_TRIGGER = "|".join(sorted(_TRIGGERS, key=len, reverse=True))

_AMOUNT = (
    rf"(?:(?P<a_trig>{_TRIGGER})[了的]?\s*(?:是|为|我)?\s*:?\s*)?"
    "(?P<a_amt>"
    # ¥100, 人民币300, rmb 500
    rf"(?:¥|￥|人民币|rmb|cny)\s*(?P<a_n1>{_NUM}|{_CN_AMOUNT})(?P<a_m1>{_MULT})?(?:{_UNIT})?"
    # 100元, 一百块钱, 1.5万元, 5k元, 三点五元, 三块五
    rf"|(?P<a_n2>{_NUM}|{_CN_AMOUNT})(?:点(?P<a_d2>[零一二三四五六七八九]+|\d\d?(?!\d)))?(?P<a_m2>{_MULT})?\s*"
    rf"(?:块(?P<a_j2>[一二三四五六七八九]|\d)[毛角]?(?![\d{_DIGITS_CN}{_UNITS_CN}次个笔])|{_UNIT})"
    # 5千, 三万: a round number with 千/万 is an amount even without a unit
    rf"|(?P<a_n3>{_NUM})(?P<a_m3>千万|百万|万|千)(?!{_NOT_AMOUNT_AFTER})"
    rf"|(?P<a_c3>{_CN_AMOUNT}[千万仟])(?!{_NOT_AMOUNT_AFTER})"
    # 充了100, 金额是两千五: a bare number only right after a trigger word
    rf"|(?(a_trig)(?P<a_n4>{_NUM}|{_CN_AMOUNT_2})(?P<a_m4>{_MULT})?(?!{_NOT_AMOUNT_AFTER})|(?!))"
    ")"
)

_PERIOD = (
    "凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|深夜"
    # a lone 早/晚 is a period only right before a clock time ("晚8点"), not in "晚了"
    "|[早晚](?=[\\d零〇一二两三四五六七八九十])"
)
_CN_MINUTE = "[二三四五]?十[一二三四五六七八九]?|零[一二三四五六七八九]|[一二三四五六七八九](?=分)"
# An amount with its unit starts here: 100元, 五十块 (下午3点100元 is a time and an amount).
_AMOUNT_AHEAD = f"(?:\\d+(?:\\.\\d+)?|{_CN_AMOUNT})\\s*(?:{_MULT})?\\s*(?:{_UNIT})"
_CLOCK_END = "[\\d零〇一二两三四五六七八九十击开进]"
_CLOCK = (
    "(?P<t_clock>"
    r"(?<![\d.:])(?P<t_hh>\d\d?):(?P<t_mm>\d\d)(?::\d\d)?(?![\d:])"
    rf"|(?:(?<![\d.])(?P<t_h>\d\d?)(?:点钟|点|时)|(?P<t_hc>{_CN_SMALL})(?:点钟|点))"
    # minutes are never the start of an amount: 下午3点20元 is 15:00 and 20元
    rf"(?:(?P<t_half>半)|(?P<t_quarter>一刻|三刻)"
    rf"|(?P<t_min>\d\d?(?!\d)|{_CN_MINUTE})(?!\s*(?:{_MULT})?\s*(?:{_UNIT}))分?|整)?"
    # "三点五元" is an amount and "点击" a click, not a clock time. After a date or a day period
    # (下午3点100元) an amount may follow directly; after a bare clock only one that cannot be the
    # decimals of an amount (3点100元, but 3点5元 is 3.5元).
    f"(?(t_per)(?!(?!{_AMOUNT_AHEAD}){_CLOCK_END})"
    f"|(?(t_date)(?!(?!{_AMOUNT_AHEAD}){_CLOCK_END})"
    f"|(?!(?!\\d{{3,}}(?:\\.\\d+)?\\s*(?:{_MULT})?\\s*(?:{_UNIT})){_CLOCK_END})))"
    ")"
)
_DATE = (
    "(?P<t_date>"
    r"(?<!\d)(?P<t_y>\d{4})\s*[年\-/.]\s*(?P<t_m>\d\d?)\s*[月\-/.]\s*(?P<t_d>\d\d?)(?!\d)[日号]?"
    rf"|(?:(?<![\d.])(?P<t_m2>\d\d?)|(?P<t_m2c>{_CN_SMALL}))月"
    rf"(?:(?P<t_d2>\d\d?)(?!\d)|(?P<t_d2c>{_CN_SMALL}))[日号]?"
    # 11-20: but "3-5个工作日" is a range of days
    r"|(?<![\d.\-/])(?P<t_m3>\d\d?)[\-/](?P<t_d3>\d\d?)"
    r"(?![\d\-/.]|\s*[个天日次元块%万千小分秒周年月号笔倍人])"
    "|(?P<t_dp>今早|今晨|昨早|昨晚|昨夜|今晚|今夜)"
    "|(?P<t_day>大前天|前天|昨天|昨日|昨儿|今天|今日|今儿)"
    "|(?:(?P<t_wkp>上上|上|这|本)个?)?(?:周|星期|礼拜)(?P<t_wkd>[一二三四五六日天七1-7])"
    # 20号: but not 3号线, 3日内
    rf"|(?:(?<![\d.])(?P<t_d4>\d\d?)|(?P<t_d4c>{_CN_SMALL}))[日号](?![线楼店门机位床键码内后前])"
    ")"
)
_RELATIVE = (
    "(?P<t_rel>刚才|刚刚"
    rf"|(?P<t_rn>半|(?<!\d)\d\d?\d?|{_CN_SMALL})个?(?P<t_rhalf>半)?"
    "(?P<t_ru>分钟|小时|钟头|天|日|星期|周|礼拜)(?:以前|之前|前))"
)
# A bare "一点" is mostly "a little" (有一点问题); "第三点" is "the third point".
_BARE_CLOCK_GUARD = "(?<!第)(?!一点(?![钟半整零〇一二三四五六七八九十\\d]))"
_TIME = (
    f"{_RELATIVE}"
    f"|{_DATE}?"
    f"(?:(?(t_date)\\s*)(?P<t_per>{_PERIOD}))?"
    f"(?:(?(t_date)\\s*|(?(t_per)\\s*|{_BARE_CLOCK_GUARD})){_CLOCK})?"
    # a period alone ("下午好") is no time: a date or a clock must be there
    "(?(t_date)|(?(t_clock)|(?!)))"
)

# The contact shapes the guard masks (bot/guard/contact.py), so what is read is what is hidden.
_EMAIL = EMAIL
_PHONE = PHONE
_ORDER_KEYWORD = (
    "(?:订单编号|订单号码|订单号|订单|交易流水号|交易单号|交易编号|交易号|流水号|单号"
    r"|order(?:\s*(?:id|no\.?|number|num|\#))?)\s*(?:是|为)?\s*[:\#]?\s*"
    # an id has a digit, so "order confirmation" is no order number
    r"(?P<o_id>(?=[a-z0-9]*\d)[a-z0-9]{8,32})(?![a-z0-9])"
)
_LONG_NUMBER = r"(?<![\da-z])\d{16,32}(?![\da-z])"

# Order matters: at one position the first alternative that matches wins.
_FIXED_ALTERNATIVES = (
    f"(?P<email>{_EMAIL})"
    f"|(?P<order_kw>{_ORDER_KEYWORD})"
    f"|(?P<phone>{_PHONE})"
    f"|(?P<order_num>{_LONG_NUMBER})"
    f"|(?P<time>{_TIME})"
    f"|(?P<amount>{_AMOUNT})"
)
# Every character an alternative above can start with. Tested first at each position, it lets
# the scan skip ordinary Chinese text with one set lookup instead of trying every alternative.
_START_CHARS = (
    "a-z0-9._%+\\-"  # email, phone (+86), numbers, order, rmb/cny
    f"{_DIGITS_CN}十拾"  # Chinese numerals: amounts, hours, days, months
    "订交流单"  # order keywords
    "¥￥人"  # currency prefixes
    + "".join(sorted({trigger[0] for trigger in _TRIGGERS}))  # 充了100, 金额是100
    + "刚半今昨前大上这本周星礼"  # relative times, days, weekdays
    + "凌清早中下傍晚夜深"  # day periods
)
# Cheap pre-check: without any of these characters only a payment method can be in the text.
_HINT: Final = re.compile(f"[\\d@{_DIGITS_CN}{_UNITS_CN}今昨前刚周星礼上下中午早晚凌夜半深清傍]")
# extract_one() fallbacks: the bot asked for this detail, so a bare answer is enough.
_BARE_AMOUNT: Final = re.compile(f"(?P<a_n>{_NUM}|{_CN_AMOUNT_2})(?P<a_m>{_MULT})?(?!{_NOT_AMOUNT_AFTER})")
_BARE_ORDER: Final = re.compile(r"(?<![a-z0-9])(?=[a-z0-9]*\d)[a-z0-9]{8,32}(?![a-z0-9])")

_MULTIPLIER: Final = MappingProxyType(
    {"百万": 1_000_000, "千万": 10_000_000, "万": 10_000, "千": 1000, "百": 100, "k": 1000, "w": 10_000}
)
_DAYS_AGO: Final = MappingProxyType(
    {"今天": 0, "今日": 0, "今儿": 0, "昨天": 1, "昨日": 1, "昨儿": 1, "前天": 2, "大前天": 3}
)
_WEEKDAY: Final = MappingProxyType({"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6})
_AFTERNOON: Final = frozenset({"下午", "傍晚"})
_EVENING: Final = frozenset({"晚上", "晚", "夜里", "夜间", "半夜", "深夜", "昨晚", "今晚", "昨夜", "今夜"})
_RELATIVE_UNIT: Final = MappingProxyType(
    {
        "分钟": timedelta(minutes=1),
        "小时": timedelta(hours=1),
        "钟头": timedelta(hours=1),
        "天": timedelta(days=1),
        "日": timedelta(days=1),
        "星期": timedelta(weeks=1),
        "周": timedelta(weeks=1),
        "礼拜": timedelta(weeks=1),
    }
)

# --------------------------------------------------------------------------- values


class SaidDay(NamedTuple):
    """A day the user named without a clock time (今天, 昨天下午), for a clock time said later."""

    day: date
    period: str | None = None  # 下午, 昨晚…: the part of that day, when it was said


_PERIOD_WORD: Final = re.compile(f"{_PERIOD}|今早|今晨|昨早|昨晚|昨夜|今晚|今夜")
_DATE_AND_CLOCK: Final = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def has_clock(value: str) -> bool:
    """Whether a time value names the minute ("2026-11-21 15:00"), not only the day ("2026-11-21")."""
    return _DATE_AND_CLOCK.fullmatch(value) is not None


def said_day(value: str, surface: str) -> SaidDay | None:
    """The day of a date-only time value and the day period of its surface (昨天下午 -> 下午).

    None when the value has a clock time or is no date.
    """
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    period = _PERIOD_WORD.search(surface)
    return SaidDay(day, period.group() if period else None)


def _amount_value(m: re.Match[str]) -> str | None:
    """Normalised amount of an amount match, whichever branch matched."""
    if m["a_c3"] is not None:
        number = _to_number(m["a_c3"])
        return None if number is None else _plain(number)
    for num, mult in (("a_n1", "a_m1"), ("a_n2", "a_m2"), ("a_n3", "a_m3"), ("a_n4", "a_m4")):
        if m[num] is not None:
            number = _to_number(m[num])
            if number is None:
                return None
            if m[mult]:
                number *= _MULTIPLIER[m[mult]]
            if num == "a_n2":
                number += _fraction(m["a_d2"], m["a_j2"])
            return _plain(number)
    return None


def _fraction(decimals: str | None, jiao: str | None) -> Decimal:
    """The part after the yuan: 三点五元 (decimals "五") or 三块五 (jiao "五"), both 0.5."""
    if decimals:
        digits = "".join(str(_CN_DIGIT.get(ch, ch)) for ch in decimals)
        return Decimal("0." + digits)
    if jiao:
        return Decimal(_CN_DIGIT[jiao] if jiao in _CN_DIGIT else int(jiao)) / 10
    return Decimal(0)


def _small_number(digits: str | None, chinese: str | None) -> int | None:
    """An hour, minute, day or month written in digits or Chinese (up to 59)."""
    if digits is not None:
        return int(digits)
    return cn_to_int(chinese) if chinese is not None else None


def _date_of(m: re.Match[str], today: date) -> date | None:
    """The date part of a time match; None when it names no real date (2月30日)."""
    try:
        if m["t_y"] is not None:
            return date(int(m["t_y"]), int(m["t_m"]), int(m["t_d"]))
        if m["t_m2"] is not None or m["t_m2c"] is not None:
            return _past_month_day(today, _small_number(m["t_m2"], m["t_m2c"]), _small_number(m["t_d2"], m["t_d2c"]))
        if m["t_m3"] is not None:
            return _past_month_day(today, int(m["t_m3"]), int(m["t_d3"]))
        if m["t_dp"] is not None:
            return today - timedelta(days=0 if m["t_dp"].startswith("今") else 1)
        if m["t_day"] is not None:
            return today - timedelta(days=_DAYS_AGO[m["t_day"]])
        if m["t_wkd"] is not None:
            return _weekday(today, m["t_wkp"], m["t_wkd"])
        return _past_day_of_month(today, _small_number(m["t_d4"], m["t_d4c"]))
    except (ValueError, TypeError):  # month 13, day 32, or a malformed Chinese numeral
        return None


def _past_month_day(today: date, month: int | None, day: int | None) -> date:
    """11月20日 without a year: the most recent one, since users report what already happened."""
    if month is None or day is None:
        raise ValueError("not a month and day")
    candidate = date(today.year, month, day)
    return candidate if candidate <= today else date(today.year - 1, month, day)


def _past_day_of_month(today: date, day: int | None) -> date:
    """20号: this month's if it has passed, else last month's."""
    if day is None:
        raise ValueError("not a day")
    if day <= today.day:
        return today.replace(day=day)
    last_month = today.replace(day=1) - timedelta(days=1)
    return last_month.replace(day=day)


def _weekday(today: date, prefix: str | None, day: str) -> date:
    """周三 is the most recent Wednesday (today included); 上周三 is last calendar week's."""
    target = int(day) - 1 if day.isdigit() else _WEEKDAY[day]
    if prefix is None:
        return today - timedelta(days=(today.weekday() - target) % 7)
    weeks_back = {"上上": 2, "上": 1}.get(prefix, 0)
    monday = today - timedelta(days=today.weekday(), weeks=weeks_back)
    return monday + timedelta(days=target)


def _clock_of(m: re.Match[str]) -> tuple[int, int] | None:
    """(hour, minute) as written, before the period (下午) is applied; None if impossible."""
    hour: int | None
    if m["t_hh"] is not None:
        hour, minute = int(m["t_hh"]), int(m["t_mm"])
    else:
        hour = _small_number(m["t_h"], m["t_hc"])
        if m["t_half"]:
            minute = 30
        elif m["t_quarter"]:
            minute = 15 if m["t_quarter"] == "一刻" else 45
        elif m["t_min"]:
            minute = int(m["t_min"]) if m["t_min"].isdigit() else cn_to_int(m["t_min"]) or 0
        else:
            minute = 0
    if hour is None or hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return hour, minute


def _apply_period(period: str | None, hour: int) -> int:
    """24-hour hour from a 12-hour one; may exceed 23, meaning after midnight the next day.

    下午三点 is 15:00, 中午一点 13:00, 晚上八点 20:00, and 晚上十二点 / 晚上一点 are past
    midnight (24:00, 25:00) because that is the night people mean.
    """
    if period is None or hour >= 13:  # a 24-hour time needs no period
        return hour
    if period in _AFTERNOON:
        return hour + 12 if hour < 12 else hour
    if period == "中午":
        return hour + 12 if hour < 5 else hour
    if period in _EVENING:
        if hour < 5:
            return hour + 24
        return hour + 12
    if period == "凌晨" and hour == 12:
        return 0
    return hour


def _relative_value(m: re.Match[str], now: datetime) -> str | None:
    """刚才 / 半小时前 / 三天前: minutes and hours give a clock time, days and weeks a date."""
    if m["t_rn"] is None:  # 刚才, 刚刚
        return now.strftime("%Y-%m-%d %H:%M")
    if m["t_rn"] == "半":
        count = 0.5
    else:
        whole = int(m["t_rn"]) if m["t_rn"].isdigit() else cn_to_int(m["t_rn"])
        if whole is None:
            return None
        count = whole + (0.5 if m["t_rhalf"] else 0)
    unit = _RELATIVE_UNIT[m["t_ru"]]
    moment = now - unit * count
    if unit < timedelta(days=1):
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.date().isoformat()


def _time_value(m: re.Match[str], now: datetime, said: SaidDay | None = None) -> str | None:
    """Normalised time of a time match, relative to now (already cut to the minute).

    `said` is the day (and day period) the user gave earlier without a clock time: a clock time
    written without a date falls on that day, unless that would be in the future.
    """
    if m["t_rel"] is not None:
        return _relative_value(m, now)
    day = _date_of(m, now.date()) if m["t_date"] is not None else None
    if m["t_date"] is not None and day is None:
        return None
    if m["t_clock"] is None:
        return day.isoformat() if day is not None else None
    clock = _clock_of(m)
    if clock is None:
        return None
    if day is None and said is not None:
        hour = _apply_period(m["t_per"] or said.period, clock[0])
        moment = datetime.combine(said.day, time()) + timedelta(hours=hour, minutes=clock[1])
        if moment <= now:
            return moment.strftime("%Y-%m-%d %H:%M")
    hour = _apply_period(m["t_per"] or m["t_dp"], clock[0])
    moment = datetime.combine(day or now.date(), time()) + timedelta(hours=hour, minutes=clock[1])
    # Without a date the user means the last time the clock showed this: "晚上八点" said at
    # 10:00 is last night, "早上八点" is this morning.
    if day is None and moment > now:
        moment -= timedelta(days=1)
    return moment.strftime("%Y-%m-%d %H:%M")


def _entity(kind: str, value: str, span: tuple[int, int]) -> Entity:
    return Entity(entity=kind, value=value, start=span[0], end=span[1])


def _normalise_methods(methods: Mapping[str, str]) -> Mapping[str, str]:
    """Surface forms folded like user text (NFKC, lower case), so "Apple Pay" matches "apple pay"."""
    folded: dict[str, str] = {}
    for surface, canonical in methods.items():
        key = unicodedata.normalize("NFKC", surface).strip().lower()
        if not key:
            raise ValueError(
                f"Payment method surface form {surface!r} (for {canonical!r}) is empty; "
                "remove it from the payment_method lookup table or its synonyms."
            )
        folded[key] = canonical
    return MappingProxyType(folded)


def _method_pattern(surfaces: list[str]) -> str:
    """Alternation of the surface forms, longest first, so "信用卡" is never read as "卡".

    Latin forms get word boundaries so "pay" does not match inside "payment".
    """
    parts = []
    for surface in sorted(surfaces, key=lambda s: (-len(s), s)):
        before = "(?<![a-z])" if surface[0].isascii() and surface[0].isalpha() else ""
        after = "(?![a-z])" if surface[-1].isascii() and surface[-1].isalpha() else ""
        parts.append(f"{before}{re.escape(surface)}{after}")
    return "|".join(parts)


def _overlaps(start: int, end: int, entities: list[Entity]) -> bool:
    return any(start < e["end"] and e["start"] < end for e in entities)


class EntityExtractor:
    """Finds amounts, times, order numbers, phones, emails and payment methods in normalised text.

    Example:
        >>> extractor = EntityExtractor({"银行卡": "银行卡", "储蓄卡": "银行卡"})
        >>> [(e["entity"], e["value"]) for e in extractor.extract("充了100元，用的储蓄卡")]
        [('amount', '100'), ('method', '银行卡')]
    """

    def __init__(self, methods: Mapping[str, str]) -> None:
        """Args:
            methods: every surface form of a payment method mapped to its canonical name,
                e.g. {"储蓄卡": "银行卡", "零钱": "余额"}; it comes from the training data's
                lookup tables and synonyms, so no method word lives in Python.

        Raises:
            ValueError: a surface form is empty.
        """
        self._methods = _normalise_methods(methods)
        alternatives = _FIXED_ALTERNATIVES
        starts = _START_CHARS
        self._methods_only: re.Pattern[str] | None = None
        if self._methods:
            method_alternative = f"(?P<method>{_method_pattern(list(self._methods))})"
            alternatives = f"{alternatives}|{method_alternative}"
            starts += re.escape("".join(sorted({surface[0] for surface in self._methods})))
            self._methods_only = re.compile(method_alternative)
        self._pattern = re.compile(f"(?=[{starts}])(?:{alternatives})")

    def extract(self, text: str, *, now: datetime | None = None, said: SaidDay | None = None) -> list[Entity]:
        """All entities, sorted by start, non-overlapping.

        Args:
            text: normalised text (see ``bot.nlu.normalize``).
            now: the moment relative times refer to; defaults to the current local time.
            said: a day the user named earlier without a clock time; a clock time in `text`
                without a date of its own (中午12点) falls on that day, in its day period
                (昨天下午 then 3点 is 15:00 yesterday), unless that moment is still to come.
        """
        pattern = self._pattern if _HINT.search(text) else self._methods_only
        if pattern is None:
            return []
        moment = (now or datetime.now()).replace(tzinfo=None, second=0, microsecond=0)
        found: list[Entity] = []
        position = 0
        while (match := pattern.search(text, position)) is not None:
            entity = self._convert(match, moment, said)
            if entity is not None:
                found.append(entity)
            # A rejected match (2月30日, 25点) is skipped whole rather than re-read in pieces.
            position = max(match.end(), match.start() + 1)
        return found

    def extract_one(
        self, kind: str, text: str, *, now: datetime | None = None, said: SaidDay | None = None, bare: bool = True
    ) -> Entity | None:
        """The first entity of that kind, for validating a detail the bot asked for.

        Because the bot asked, a bare answer counts: "100" is an amount and "12345678" an
        order number even without 元 or 订单号. Kind "contact" accepts a phone or an email.
        With bare=False only what `extract` finds counts (a detail the bot did not ask for).
        A number that is part of another entity (the 12 of 中午12点) is never a bare amount.
        `said`: see `extract`.

        Raises:
            ValueError: kind is not one of LOOKUP_KINDS.
        """
        if kind not in LOOKUP_KINDS:
            raise ValueError(f"Unknown entity kind {kind!r}; use one of: {', '.join(LOOKUP_KINDS)}.")
        entities = self.extract(text, now=now, said=said)
        wanted = ("phone", "email") if kind == "contact" else (kind,)
        for entity in entities:
            if entity["entity"] in wanted:
                return entity
        if not bare:
            return None
        if kind == "amount":
            return _bare_amount(text, entities)
        if kind == "order_id":
            return _bare_order(text, entities)
        return None

    def _convert(self, m: re.Match[str], now: datetime, said: SaidDay | None = None) -> Entity | None:
        """The entity a match of the combined pattern stands for, or None if its value is invalid."""
        kind = m.lastgroup
        if kind == "email" or kind == "order_num":
            return _entity("email" if kind == "email" else "order_id", m.group(), m.span())
        if kind == "order_kw":
            return _entity("order_id", m["o_id"], m.span("o_id"))
        if kind == "phone":
            return _entity("phone", re.sub(r"\D", "", m.group())[-11:], m.span())
        if kind == "method":
            return _entity("method", self._methods[m.group()], m.span())
        value = _time_value(m, now, said) if kind == "time" else _amount_value(m)
        if value is None:
            return None
        return _entity(kind or "", value, m.span("a_amt") if kind == "amount" else m.span())


def _bare_amount(text: str, entities: list[Entity]) -> Entity | None:
    """First bare number that is not part of another entity ("100" in reply to "金额多少？")."""
    for m in _BARE_AMOUNT.finditer(text):
        if _overlaps(m.start(), m.end(), entities):
            continue
        number = _to_number(m["a_n"])
        if number is not None:
            if m["a_m"]:
                number *= _MULTIPLIER[m["a_m"]]
            return _entity("amount", _plain(number), m.span())
    return None


def _bare_order(text: str, entities: list[Entity]) -> Entity | None:
    """First 8-32 letter/digit token; one that looked like a phone counts, since we asked."""
    others = [e for e in entities if e["entity"] != "phone"]
    for m in _BARE_ORDER.finditer(text):
        if not _overlaps(m.start(), m.end(), others):
            return _entity("order_id", m.group(), m.span())
    return None
