"""`walletbot report stats|funnel|unanswered` through click's runner, on a store seeded through
the real Assistant."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from engine_fixtures import CONFIG
from matplotlib import image
from sqlalchemy import update

from bot.cli import main
from bot.store import Database, Turn


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


# --------------------------------------------------------------------------- report unanswered


@pytest.fixture
def unanswered(chat, settings):
    """Out-of-scope questions (two alike, one with a phone number), an FAQ answer voted not
    helpful, and an out-of-scope question from three days ago."""
    for text in ("怎么开发票", "开发票怎么弄", "帮我订机票，电话13812345678"):
        chat(brand="kdou").say(text)
    voted = chat(brand="kdou")
    voted.say("客服几点上班")
    voted.press_title("没帮助")
    old = chat(brand="kdou")
    old.say("帮我查下天气")
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            s.execute(
                update(Turn)
                .where(Turn.conversation_id == old.id)
                .values(created_at=datetime.now(UTC) - timedelta(days=3))
            )
    finally:
        db.dispose()
    return settings


def test_unanswered_groups_alike_questions_with_the_nearest_entry(unanswered) -> None:
    result = invoke(unanswered, "unanswered", "--since", "1d")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # The two 开发票 questions are one group, the biggest, listed first with its second wording.
    assert re.fullmatch(
        r"   2 × (开发票怎么弄|怎么开发票)   \[out_of_scope 2; nearest FAQ: \w+ \(0\.\d\d\)\]", lines[0]
    )
    assert re.fullmatch(r"       · (开发票怎么弄|怎么开发票)", lines[1])
    assert re.fullmatch(r"   1 × 客服几点上班   \[not_helpful 1; nearest FAQ: service_hours \(0\.\d\d\)\]", lines[2])
    # Texts are stored redacted: the phone number never reaches the report.
    assert re.fullmatch(
        r"   1 × 帮我订机票，电话138\*\*\*\*5678   \[out_of_scope 1; nearest FAQ: \w+ \(0\.\d\d\)\]", lines[3]
    )
    assert "13812345678" not in result.output
    assert "天气" not in result.output  # three days old
    assert re.fullmatch(r"4 unanswered message\(s\) in 3 group\(s\) since \d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[-1])
    assert len(lines) == 5


def test_unanswered_since_reaches_further_back(unanswered) -> None:
    result = invoke(unanswered, "unanswered", "--since", "1w", "--format", "json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert sum(g["count"] for g in groups) == 5
    weather = next(g for g in groups if g["examples"] == ["帮我查下天气"])
    assert weather["reasons"] == {"out_of_scope": 1}
    assert set(weather) == {"count", "examples", "reasons", "nearest_faq", "nearest_score"}


def test_unanswered_yaml_is_faq_stubs(unanswered) -> None:
    result = invoke(unanswered, "unanswered", "--since", "1d", "--format", "yaml")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "# FAQ stubs from unanswered questions; fill in, rename ids, move into data/faq/.\n"
    )
    stubs = yaml.safe_load(result.output)
    assert stubs["topic"] == "todo"
    assert [e["id"] for e in stubs["entries"]] == ["todo_1", "todo_2", "todo_3"]
    first = stubs["entries"][0]
    assert {first["question"], *first["alternates"]} == {"怎么开发票", "开发票怎么弄"}
    assert first["answer"] == "（待填写：答案必须来自资料）" and first["tags"] == ["todo"]
    assert stubs["entries"][1]["alternates"] == ["（待填写：再写五种用户的问法）"]


def test_unanswered_with_nothing_to_report(settings) -> None:
    result = invoke(settings, "unanswered", "--since", "12h")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"0 unanswered message\(s\) in 0 group\(s\) since \S+ \S+ UTC\n", result.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--since", "soon"],
            "Error: Invalid value for '--since': Cannot read --since 'soon': use a number and d, h or w, e.g. 7d, 12h, 2w.",
        ),
        (
            ["--since", "7m"],
            "Error: Invalid value for '--since': Cannot read --since '7m': use a number and d, h or w, e.g. 7d, 12h, 2w.",
        ),
        (
            ["--format", "csv"],
            "Error: Invalid value for '--format': 'csv' is not one of 'text', 'json', 'yaml'.",
        ),
    ],
)
def test_unanswered_refuses_bad_option_values(settings, args: list[str], message: str) -> None:
    result = invoke(settings, "unanswered", *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message
