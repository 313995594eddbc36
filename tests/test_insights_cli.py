"""`walletbot report stats` and `walletbot report funnel` through click's runner, on a store
seeded through the real Assistant."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import CONFIG
from matplotlib import image

from bot.cli import main


@pytest.fixture
def seeded(chat, settings):
    """Two topup conversations: one solved at the first step, one that asked for a human there;
    one kdou conversation not understood."""
    solved = chat(brand="upay")  # upay's top-up checklist begins at account_info
    solved.say("充值失败了")
    solved.press_title("成功了")
    handed = chat(brand="upay")
    handed.say("充值失败了")
    handed.press("/human")
    other = chat(brand="kdou")
    other.say("asdkjh qwe")
    return settings


def invoke(settings, *args: str):
    runner = CliRunner(
        env={
            "WALLETBOT_STORAGE_DATABASE_URL": settings.database_url,
            "WALLETBOT_PATHS_MODELS": str(settings.models_dir),
        }
    )
    return runner.invoke(main, ["--config", str(CONFIG), "report", *args], catch_exceptions=False)


def test_stats_json_has_every_figure(seeded) -> None:
    result = invoke(seeded, "stats", "--since", "1d", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["schema"] == "walletbot.insights/1"
    conv = report["conversations"]
    assert (conv["conversations"], conv["contained"], conv["escalated"]) == (3, 1, 1)
    assert report["escalation_reasons"]["handoff"] == 1
    assert report["messages"]["outcomes"]["fallback"] == 1
    topup = next(f for f in report["funnels"] if f["flow"] == "topup_problem")
    assert topup["title"] == "充值失败排查"
    first = topup["steps"][0]
    assert first["step"] == "account_info"  # the flow's own order
    assert (first["reached"], first["escalated"]) == (2, 1)
    assert first["choices"][:2] == [{"title": "成功了", "conversations": 1}, {"title": "还是不行", "conversations": 0}]


def test_stats_brand_filter(seeded) -> None:
    result = invoke(seeded, "stats", "--since", "1d", "--brand", "kdou", "--format", "json")
    report = json.loads(result.output)
    assert report["period"]["brand"] == "kdou"
    assert report["conversations"]["conversations"] == 1
    assert report["funnels"] == []


def test_stats_csv_rows_use_the_configured_words(seeded) -> None:
    result = invoke(seeded, "stats", "--since", "1d", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["section", "name", "value"]
    assert ["对话数", "独立解决率", "33.3%"] in rows
    assert ["转人工原因", "用户要求转人工", "1"] in rows
    assert ["按优先级", "普通", "1"] in rows


def test_stats_table(seeded) -> None:
    result = invoke(seeded, "stats", "--since", "1d")
    assert result.exit_code == 0, result.output
    assert "  机器人独立解决：1\n" in result.output
    assert (
        "  account_info：到达 2, 在此离开 0, 在此解决 0, 在此转人工 1; 用户选择: 成功了 1，还是不行 0" in result.output
    )


def test_stats_refuses_an_unreadable_period(seeded) -> None:
    result = CliRunner().invoke(main, ["--config", str(CONFIG), "report", "stats", "--since", "soon"])
    assert result.exit_code == 2
    assert "Cannot read --since 'soon': use a number and d, h or w, e.g. 7d, 12h, 2w." in result.output


def test_funnel_plot_writes_a_png(seeded, tmp_path: Path) -> None:
    picture = tmp_path / "out" / "topup.png"
    result = invoke(seeded, "funnel", "topup_problem", "--since", "1d", "--plot", str(picture))
    assert result.exit_code == 0, result.output
    pixels = image.imread(picture)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 600  # a real picture, not an empty file
    assert "充值失败排查 (topup_problem)" in result.output


def test_funnel_of_an_unknown_flow(seeded) -> None:
    result = invoke(seeded, "funnel", "no_such_flow")
    assert result.exit_code == 1
    assert "Unknown flow 'no_such_flow': known flows are account_frozen," in result.output
