"""Tests for bot.nlu.entities: values, spans, negatives, overlap rules and extract_one."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.nlu.entities import ENTITY_KINDS, LOOKUP_KINDS, EntityExtractor, cn_to_int

# A Sunday; every test passes it so none depends on the clock.
NOW = datetime(2026, 11, 22, 10, 0)

# What the training data's payment_method lookup table and synonyms would provide.
METHODS = {
    "银行卡": "银行卡",
    "储蓄卡": "银行卡",
    "借记卡": "银行卡",
    "卡": "银行卡",
    "信用卡": "信用卡",
    "余额": "余额",
    "零钱": "余额",
    "微信": "微信支付",
    "微信支付": "微信支付",
    "支付宝": "支付宝",
    "Apple Pay": "Apple Pay",
}


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor(METHODS)


def found(extractor: EntityExtractor, text: str) -> list[tuple[str, str, str]]:
    """(kind, value, surface) of every entity, the surface cut from the text by the span."""
    return [(e["entity"], e["value"], text[e["start"] : e["end"]]) for e in extractor.extract(text, now=NOW)]


def assert_single(extractor: EntityExtractor, text: str, kind: str, value: str, surface: str) -> None:
    """Exactly one entity of that kind, with that value, at the first occurrence of surface."""
    entities = [e for e in extractor.extract(text, now=NOW) if e["entity"] == kind]
    start = text.index(surface)
    assert entities == [{"entity": kind, "value": value, "start": start, "end": start + len(surface)}]


AMOUNTS = [
    ("100元", "100", "100元"),
    ("充了100块", "100", "100块"),
    ("100块钱没到账", "100", "100块钱"),
    ("付款¥100", "100", "¥100"),
    ("100.50元", "100.5", "100.50元"),
    ("1,000元", "1000", "1,000元"),
    ("一百元", "100", "一百元"),
    ("一百块", "100", "一百块"),
    ("两千五百元", "2500", "两千五百元"),
    ("两千五元", "2500", "两千五元"),
    ("两千五块", "2500", "两千五块"),
    ("提现三万", "30000", "三万"),
    ("1.5万元", "15000", "1.5万元"),
    ("大概5千", "5000", "5千"),
    ("5k元", "5000", "5k元"),
    ("200rmb", "200", "200rmb"),
    ("人民币300", "300", "人民币300"),
    ("金额是100", "100", "100"),
    ("金额:300", "300", "300"),
    ("充了100", "100", "100"),
    ("付了99.5", "99.5", "99.5"),
    ("扣了我50", "50", "50"),
    ("退了两千五", "2500", "两千五"),
    ("一百零五块", "105", "一百零五块"),
    ("一万二千元", "12000", "一万二千元"),
    ("三块五", "3.5", "三块五"),
    ("三点五元", "3.5", "三点五元"),
    ("充值1000元失败了3次", "1000", "1000元"),
]


@pytest.mark.parametrize(("text", "value", "surface"), AMOUNTS)
def test_amount(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "amount", value, surface)


TIMES = [
    ("今天", "2026-11-22", "今天"),
    ("昨天充的", "2026-11-21", "昨天"),
    ("前天", "2026-11-20", "前天"),
    ("大前天", "2026-11-19", "大前天"),
    ("昨天下午", "2026-11-21", "昨天下午"),
    ("今早8点", "2026-11-22 08:00", "今早8点"),
    ("昨晚十点", "2026-11-21 22:00", "昨晚十点"),
    ("昨天下午三点", "2026-11-21 15:00", "昨天下午三点"),
    ("前天上午3点半", "2026-11-20 03:30", "前天上午3点半"),
    ("昨天15:30", "2026-11-21 15:30", "昨天15:30"),
    ("昨天下午三点二十", "2026-11-21 15:20", "昨天下午三点二十"),
    ("下午三点二十五分", "2026-11-21 15:25", "下午三点二十五分"),
    ("上午九点", "2026-11-22 09:00", "上午九点"),
    # only a clock time: today, or yesterday when that time is still to come
    ("下午三点", "2026-11-21 15:00", "下午三点"),
    ("晚上8点", "2026-11-21 20:00", "晚上8点"),
    ("凌晨2点", "2026-11-22 02:00", "凌晨2点"),
    ("中午12点", "2026-11-21 12:00", "中午12点"),
    ("中午一点", "2026-11-21 13:00", "中午一点"),
    ("9:45充的", "2026-11-22 09:45", "9:45"),
    ("二十三点", "2026-11-21 23:00", "二十三点"),
    # late night belongs to the night before: 昨天晚上1点 is early today
    ("昨天晚上1点", "2026-11-22 01:00", "昨天晚上1点"),
    ("晚上12点", "2026-11-22 00:00", "晚上12点"),
    ("11月20日", "2026-11-20", "11月20日"),
    ("11月20号", "2026-11-20", "11月20号"),
    ("十一月二十日", "2026-11-20", "十一月二十日"),
    ("12月1日", "2025-12-01", "12月1日"),
    ("11-20", "2026-11-20", "11-20"),
    ("2026-11-20", "2026-11-20", "2026-11-20"),
    ("2026年11月20日", "2026-11-20", "2026年11月20日"),
    ("2026-11-20 15:30", "2026-11-20 15:30", "2026-11-20 15:30"),
    ("11月20日下午3点", "2026-11-20 15:00", "11月20日下午3点"),
    ("20号充的", "2026-11-20", "20号"),
    ("周三", "2026-11-18", "周三"),
    ("星期三", "2026-11-18", "星期三"),
    ("周日", "2026-11-22", "周日"),
    ("上周五", "2026-11-13", "上周五"),
    ("上周五晚上8点", "2026-11-13 20:00", "上周五晚上8点"),
    ("刚才", "2026-11-22 10:00", "刚才"),
    ("刚刚扣的钱", "2026-11-22 10:00", "刚刚"),
    ("半小时前", "2026-11-22 09:30", "半小时前"),
    ("两个小时前", "2026-11-22 08:00", "两个小时前"),
    ("一个半小时前", "2026-11-22 08:30", "一个半小时前"),
    ("10分钟前", "2026-11-22 09:50", "10分钟前"),
    ("三天前", "2026-11-19", "三天前"),
]


@pytest.mark.parametrize(("text", "value", "surface"), TIMES)
def test_time(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "time", value, surface)


ORDER_IDS = [
    ("订单号:2026112212345678", "2026112212345678", "2026112212345678"),
    ("订单号是abc12345678", "abc12345678", "abc12345678"),
    ("订单编号 ab12345678", "ab12345678", "ab12345678"),
    ("交易号12345678没到账", "12345678", "12345678"),
    ("交易单号:t2026112200001", "t2026112200001", "t2026112200001"),
    ("流水号98765432100", "98765432100", "98765432100"),
    ("单号12345678", "12345678", "12345678"),
    ("订单12345678", "12345678", "12345678"),
    ("order: 12345678", "12345678", "12345678"),
    ("order#ab123456", "ab123456", "ab123456"),
    # a keyword wins over the phone reading of the same digits
    ("订单号13812345678", "13812345678", "13812345678"),
    # 16-32 digits need no keyword
    ("就是这笔20261122123456789012", "20261122123456789012", "20261122123456789012"),
]


@pytest.mark.parametrize(("text", "value", "surface"), ORDER_IDS)
def test_order_id(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "order_id", value, surface)


PHONES = [
    ("13812345678", "13812345678", "13812345678"),
    ("我的手机号是19987654321", "19987654321", "19987654321"),
    ("+8613812345678", "13812345678", "+8613812345678"),
    ("+86 138-1234-5678", "13812345678", "+86 138-1234-5678"),
    ("86 138 1234 5678", "13812345678", "86 138 1234 5678"),
    ("电话138-1234-5678谢谢", "13812345678", "138-1234-5678"),
]


@pytest.mark.parametrize(("text", "value", "surface"), PHONES)
def test_phone(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "phone", value, surface)


EMAILS = [
    ("邮箱abc.d@qq.com", "abc.d@qq.com", "abc.d@qq.com"),
    (
        "发到 user_1+wallet@mail.example.com.cn 吧",
        "user_1+wallet@mail.example.com.cn",
        "user_1+wallet@mail.example.com.cn",
    ),
    ("13812345678@163.com", "13812345678@163.com", "13812345678@163.com"),
]


@pytest.mark.parametrize(("text", "value", "surface"), EMAILS)
def test_email(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "email", value, surface)


METHOD_CASES = [
    ("用的银行卡", "银行卡", "银行卡"),
    ("储蓄卡充值", "银行卡", "储蓄卡"),
    ("信用卡还款", "信用卡", "信用卡"),  # not "卡"
    ("零钱提现", "余额", "零钱"),
    ("微信支付失败", "微信支付", "微信支付"),  # the longer form wins
    ("用apple pay付的", "Apple Pay", "apple pay"),  # surface forms are folded like user text
]


@pytest.mark.parametrize(("text", "value", "surface"), METHOD_CASES)
def test_method(extractor: EntityExtractor, text: str, value: str, surface: str) -> None:
    assert_single(extractor, text, "method", value, surface)


def test_full_message(extractor: EntityExtractor) -> None:
    text = "昨天下午三点充的100元,用的银行卡"
    assert extractor.extract(text, now=NOW) == [
        {"entity": "time", "value": "2026-11-21 15:00", "start": 0, "end": 6},
        {"entity": "amount", "value": "100", "start": 8, "end": 12},
        {"entity": "method", "value": "银行卡", "start": 15, "end": 18},
    ]


def test_everything_in_one_message(extractor: EntityExtractor) -> None:
    text = "我在11月20日下午3点用微信充值了500元,订单号2026112012345678,联系13812345678或a@b.cn"
    assert found(extractor, text) == [
        ("time", "2026-11-20 15:00", "11月20日下午3点"),
        ("method", "微信支付", "微信"),
        ("amount", "500", "500元"),
        ("order_id", "2026112012345678", "2026112012345678"),
        ("phone", "13812345678", "13812345678"),
        ("email", "a@b.cn", "a@b.cn"),
    ]


NOT_AMOUNTS = [
    "2026年11月20日",  # a date
    "11-20",
    "15:30",  # a clock time
    "3点",
    "13812345678",  # a phone
    "充值13812345678",
    "订单号12345678",  # an order number
    "失败了3次",  # a count
    "充了3次",
    "充了两三次",
    "扣了两笔",
    "手续费5%",  # a percentage
    "两千五",  # 两千五 needs 元/块
    "三万五",
    "100美元",  # not our currency
    "千万不要",  # "by all means"
    "提了一下",
    "一块儿去",
    "3-5个工作日",
    "转账138****5678",  # a phone number the guard masked
]


@pytest.mark.parametrize("text", NOT_AMOUNTS)
def test_not_an_amount(extractor: EntityExtractor, text: str) -> None:
    assert [e for e in extractor.extract(text, now=NOW) if e["entity"] == "amount"] == []


NO_ENTITIES = [
    "有一点问题",  # 一点 is "a little"
    "下午好",  # a period alone
    "第三点",
    "点击充值没反应",
    "3号线",
    "3-5个工作日到账",
    "2月30日",  # no such date
    "25点",
    "订单没到账",
    "order confirmation",  # an order id has a digit
    "payment",  # no word boundary, no method
    "你好,我的账户被冻结了",
    "",
]


@pytest.mark.parametrize("text", NO_ENTITIES)
def test_no_entities(extractor: EntityExtractor, text: str) -> None:
    assert extractor.extract(text, now=NOW) == []


def test_order_digits_are_not_a_phone(extractor: EntityExtractor) -> None:
    assert found(extractor, "订单号13812345678") == [("order_id", "13812345678", "13812345678")]


def test_long_digit_run_is_an_order_not_a_phone(extractor: EntityExtractor) -> None:
    assert found(extractor, "13812345678901234") == [("order_id", "13812345678901234", "13812345678901234")]


def test_phone_digits_are_not_an_amount(extractor: EntityExtractor) -> None:
    assert found(extractor, "转13812345678元") == [("phone", "13812345678", "13812345678")]


def test_date_digits_are_not_an_amount(extractor: EntityExtractor) -> None:
    assert found(extractor, "充值2026年11月20日") == [("time", "2026-11-20", "2026年11月20日")]


def test_email_digits_are_not_a_phone(extractor: EntityExtractor) -> None:
    assert found(extractor, "13812345678@qq.com") == [("email", "13812345678@qq.com", "13812345678@qq.com")]


def test_count_after_amount_is_not_an_amount(extractor: EntityExtractor) -> None:
    assert found(extractor, "100块5次") == [("amount", "100", "100块")]


def test_result_is_sorted_and_non_overlapping(extractor: EntityExtractor) -> None:
    text = "上周五晚上8点信用卡扣了两千五百元,交易号t12345678,电话+86 138 1234 5678"
    entities = extractor.extract(text, now=NOW)
    assert [e["entity"] for e in entities] == ["time", "method", "amount", "order_id", "phone"]
    for before, after in zip(entities, entities[1:]):
        assert before["end"] <= after["start"]


def test_now_defaults_to_the_clock(extractor: EntityExtractor) -> None:
    entity = extractor.extract_one("time", "今天")
    assert entity is not None
    assert entity["value"] == datetime.now().date().isoformat()


EXTRACT_ONE = [
    ("amount", "昨天充的100元", {"entity": "amount", "value": "100", "start": 4, "end": 8}),
    ("amount", "100", {"entity": "amount", "value": "100", "start": 0, "end": 3}),  # bare reply
    ("amount", "大概五十吧", {"entity": "amount", "value": "50", "start": 2, "end": 4}),
    ("amount", "13812345678", None),
    ("amount", "138****5678", None),  # masked by the guard before the policy reads it
    ("amount", "6222 **** **** 0128", None),  # a masked card number
    ("amount", "不记得了", None),
    ("time", "昨天下午三点", {"entity": "time", "value": "2026-11-21 15:00", "start": 0, "end": 6}),
    ("time", "不记得了", None),
    ("order_id", "订单号12345678", {"entity": "order_id", "value": "12345678", "start": 3, "end": 11}),
    ("order_id", "abc12345678", {"entity": "order_id", "value": "abc12345678", "start": 0, "end": 11}),
    ("order_id", "13812345678", {"entity": "order_id", "value": "13812345678", "start": 0, "end": 11}),
    ("order_id", "没有订单号", None),
    ("phone", "打138 1234 5678", {"entity": "phone", "value": "13812345678", "start": 1, "end": 14}),
    ("phone", "a@b.cn", None),
    ("email", "a@b.cn", {"entity": "email", "value": "a@b.cn", "start": 0, "end": 6}),
    ("contact", "邮箱a@b.cn", {"entity": "email", "value": "a@b.cn", "start": 2, "end": 8}),
    ("contact", "13812345678", {"entity": "phone", "value": "13812345678", "start": 0, "end": 11}),
    ("contact", "不方便", None),
    ("method", "用的零钱", {"entity": "method", "value": "余额", "start": 2, "end": 4}),
    ("method", "100元", None),
]


@pytest.mark.parametrize(("kind", "text", "expected"), EXTRACT_ONE)
def test_extract_one(extractor: EntityExtractor, kind: str, text: str, expected: dict[str, object] | None) -> None:
    assert extractor.extract_one(kind, text, now=NOW) == expected


def test_extract_one_refuses_an_unknown_kind(extractor: EntityExtractor) -> None:
    with pytest.raises(ValueError) as error:
        extractor.extract_one("colour", "红色")
    assert str(error.value) == (
        "Unknown entity kind 'colour'; use one of: amount, time, order_id, phone, email, method, contact."
    )


def test_lookup_kinds() -> None:
    assert LOOKUP_KINDS == (*ENTITY_KINDS, "contact")


def test_empty_method_surface_is_refused() -> None:
    with pytest.raises(ValueError) as error:
        EntityExtractor({" ": "银行卡"})
    assert str(error.value) == (
        "Payment method surface form ' ' (for '银行卡') is empty; "
        "remove it from the payment_method lookup table or its synonyms."
    )


def test_without_methods_nothing_is_a_method() -> None:
    assert EntityExtractor({}).extract("用的银行卡充了100元", now=NOW) == [
        {"entity": "amount", "value": "100", "start": 7, "end": 11}
    ]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("两千五", 2500),
        ("一万二", 12000),
        ("一百零五", 105),
        ("三万", 30000),
        ("一千二百万", 12_000_000),
        ("两三", None),
        # cn2an's own cases: financial (大写) digits, 〇, 亿, units with no digit before them,
        # a zero inside a section, and what is not one number.
        ("壹仟贰佰", 1200),
        ("拾", 10),
        ("〇", 0),
        ("一亿两千万", 120_000_000),
        ("一万零五百", 10_500),
        ("两万五千", 25_000),
        ("十一万", 110_000),
        ("万", None),
        ("百", None),
        ("三四十", None),
        ("一二三", None),
        ("", None),
    ],
)
def test_cn_to_int(numeral: str, value: int | None) -> None:
    assert cn_to_int(numeral) == value


# A number inside a clock time never becomes an amount, and an amount right after a clock time
# is not swallowed by it (nor read as its minutes).
CLOCK_THEN_AMOUNT = [
    ("下午3点100元", [("time", "2026-11-21 15:00", "下午3点"), ("amount", "100", "100元")]),
    ("下午3点20元", [("time", "2026-11-21 15:00", "下午3点"), ("amount", "20", "20元")]),
    ("下午三点五十块", [("time", "2026-11-21 15:00", "下午三点"), ("amount", "50", "五十块")]),
    ("昨天3点100元", [("time", "2026-11-21 03:00", "昨天3点"), ("amount", "100", "100元")]),
    ("3点100元", [("time", "2026-11-22 03:00", "3点"), ("amount", "100", "100元")]),
    ("12点100元", [("time", "2026-11-21 12:00", "12点"), ("amount", "100", "100元")]),
    # without a date or a day period, one or two digits after 点 are an amount's decimals
    ("3点5元", [("amount", "3.5", "3点5元")]),
]


@pytest.mark.parametrize(("text", "expected"), CLOCK_THEN_AMOUNT)
def test_an_amount_right_after_a_clock_time(extractor: EntityExtractor, text: str, expected: list) -> None:
    assert found(extractor, text) == expected


SAID = [
    # (said day, said period, answer, value): a clock time without a date falls on the day said
    ("2026-11-20", None, "中午12点", "2026-11-20 12:00"),
    ("2026-11-20", "下午", "3点", "2026-11-20 15:00"),  # 前天下午 … 3点
    ("2026-11-21", "昨晚", "8点", "2026-11-21 20:00"),
    ("2026-11-20", "下午", "上午9点", "2026-11-20 09:00"),  # the answer's own period wins
    ("2026-11-20", None, "昨天下午三点", "2026-11-21 15:00"),  # so does its own date
    ("2026-11-20", None, "半小时前", "2026-11-22 09:30"),  # and a relative time
    ("2026-11-22", None, "下午3点", "2026-11-21 15:00"),  # today 15:00 is still to come
]


@pytest.mark.parametrize(("day", "period", "answer", "value"), SAID)
def test_a_clock_time_falls_on_the_day_said_earlier(
    extractor: EntityExtractor, day: str, period: str | None, answer: str, value: str
) -> None:
    from bot.nlu.entities import SaidDay

    said = SaidDay(datetime.fromisoformat(day).date(), period)
    entity = extractor.extract_one("time", answer, now=NOW, said=said)
    assert entity is not None and entity["value"] == value


def test_has_clock_and_said_day() -> None:
    from bot.nlu.entities import SaidDay, has_clock, said_day

    assert has_clock("2026-11-21 15:00") and not has_clock("2026-11-21")
    assert said_day("2026-11-21", "昨天下午") == SaidDay(datetime(2026, 11, 21).date(), "下午")
    assert said_day("2026-11-21", "昨晚") == SaidDay(datetime(2026, 11, 21).date(), "昨晚")
    assert said_day("2026-11-21", "昨天") == SaidDay(datetime(2026, 11, 21).date(), None)
    assert said_day("2026-11-21 15:00", "昨天下午三点") is None


def test_extract_one_without_bare_answers(extractor: EntityExtractor) -> None:
    """bare=False: a detail the bot did not ask for needs its usual surface form."""
    assert extractor.extract_one("amount", "100", now=NOW, bare=False) is None
    assert extractor.extract_one("order_id", "abc12345678", now=NOW, bare=False) is None
    assert extractor.extract_one("amount", "100元", now=NOW, bare=False) == {
        "entity": "amount",
        "value": "100",
        "start": 0,
        "end": 4,
    }
