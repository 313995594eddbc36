"""Facts a deployment has not supplied are never shown raw.

config.yml ships the brands with `<客服电话>`-style placeholders (the guides give no phone number,
address, email or hours). Every text the bot can say, for every brand, is rendered with the
policy's values and must hold no `<…>` left from config: the `unset_<fact>` responses stand in.
"""

from __future__ import annotations

import re

import pytest

from bot.text import render

RAW = re.compile(r"<[^<>\s]{1,40}>")


def _texts(runtime):
    content = runtime.content
    for entry in content.faq:
        yield f"faq:{entry.id}", entry.answer, entry
    for key, text in content.responses.texts.items():
        yield f"responses:{key}", text, None
    for flow in content.flows.values():
        for step in flow.steps.values():
            for part in (step.say, step.resolved):
                if part is not None:
                    yield f"flow:{flow.name}.{step.id}", part, None


@pytest.mark.parametrize("brand", ["generic", "kdou", "upay"])
def test_no_text_shows_a_raw_placeholder_from_config(runtime, brand):
    values = runtime.policy.fact_values(brand)
    shown = []
    for where, text, entry in _texts(runtime):
        if entry is not None and not entry.serves(brand):
            continue
        rendered = render(text, brand, values)
        if RAW.search(rendered):
            shown.append((where, RAW.search(rendered).group(0)))
    assert shown == []


def test_the_shipped_config_leaves_the_facts_unset_and_a_supplied_fact_is_shown(runtime):
    settings = runtime.policy.settings
    assert set(settings.brand("upay").unset_facts()) == {"website", "phone", "email", "service_hours"}
    supplied = settings.brand("kdou").model_copy(update={"phone": "95000"})
    assert supplied.unset_facts() == ["website", "email", "service_hours"]
    assert supplied.placeholders()["phone"] == "95000"
    assert "以K豆钱包官网或应用内公布的号码为准" in runtime.policy.fact_values("kdou")["phone"]
    assert all(RAW.search(v) is None for v in runtime.policy.fact_values("upay").values())
