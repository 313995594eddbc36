"""`walletbot tickets list|show` (bot/console/commands.py) through click's runner, on tickets the
real Assistant opened in a SQLite database: whole lines, masking and exit codes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result
from engine_fixtures import CONFIG

from bot.cli import main
from bot.config import Settings
from bot.store import Database, change_status, get_ticket


@dataclass
class Seeded:
    settings: Settings
    topup: str  # escalated from the top-up checklist, with details: high priority
    handoff: str  # "转人工" at once: normal priority, no checklist


@pytest.fixture
def seeded(chat, settings: Settings) -> Seeded:
    topup = chat(brand="upay")
    topup.say("充值失败了")
    while not topup.state["escalated"]:
        titles = [b["title"] for b in topup.buttons()]
        # Every check fails; at the account-status check the app does show a freeze notice.
        topup.press_title("还是不行" if "还是不行" in titles else "有冻结提示")
    topup.say("昨天下午三点充的100元，用的银行卡")
    topup.say("13812345678")
    handoff = chat(brand="kdou")
    handoff.say("转人工")
    return Seeded(settings, topup.state["ticket"], handoff.state["ticket"])


def invoke(settings: Settings, *args: str) -> Result:
    runner = CliRunner(
        env={
            "WALLETBOT_STORAGE_DATABASE_URL": settings.database_url,
            "WALLETBOT_PATHS_MODELS": str(settings.models_dir),
        }
    )
    return runner.invoke(main, ["--config", str(CONFIG), "tickets", *args])


def resolve(settings: Settings, number: str) -> None:
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            ticket = get_ticket(s, number)
            assert ticket is not None
            change_status(s, ticket, "resolved", actor="agent")
    finally:
        db.dispose()


def test_list_puts_the_higher_priority_first_and_counts(seeded: Seeded) -> None:
    result = invoke(seeded.settings, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{seeded.topup}  open             high    topup_problem        ")
    # The summary's two lines (the problem, the user's words) are folded into the ticket's one.
    assert lines[0].endswith("  充值失败，应用提示账户被冻结或限制，需要人工核实并解锁 用户描述：充值失败了")
    assert lines[1].startswith(f"{seeded.handoff}  open             normal  human_request        ")
    assert lines[1].endswith("  用户要求人工客服")
    assert lines[2] == "2 ticket(s)"


def test_list_filters_by_status(seeded: Seeded) -> None:
    resolve(seeded.settings, seeded.handoff)
    resolved = invoke(seeded.settings, "list", "--status", "resolved")
    assert resolved.exit_code == 0, resolved.output
    assert resolved.output.splitlines()[0].startswith(f"{seeded.handoff}  resolved ")
    assert resolved.output.splitlines()[1:] == ["1 ticket(s)"]
    still_open = invoke(seeded.settings, "list", "--status", "open")
    assert [line.split()[0] for line in still_open.output.splitlines()] == [seeded.topup, "1"]
    closed = invoke(seeded.settings, "list", "--status", "closed")
    assert closed.output == "0 ticket(s)\n"


def test_list_limit_says_how_many_are_not_shown(seeded: Seeded) -> None:
    result = invoke(seeded.settings, "list", "--limit", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(seeded.topup)
    assert lines[1:] == ["1 of 2 ticket(s) shown; --limit shows more"]


def test_list_on_an_empty_database(settings: Settings) -> None:
    result = invoke(settings, "list")
    assert (result.exit_code, result.output) == (0, "0 ticket(s)\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--status", "bogus"],
            "Error: Invalid value for '--status': 'bogus' is not one of "
            "'open', 'in_progress', 'waiting_on_user', 'resolved', 'closed'.",
        ),
        (["--limit", "0"], "Error: Invalid value for '--limit': 0 is not in the range 1<=x<=200."),
        (["--limit", "201"], "Error: Invalid value for '--limit': 201 is not in the range 1<=x<=200."),
        (["--limit", "many"], "Error: Invalid value for '--limit': 'many' is not a valid integer range."),
    ],
)
def test_list_refuses_bad_option_values(settings: Settings, args: list[str], message: str) -> None:
    result = invoke(settings, "list", *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message


def test_show_has_details_masked_trail_and_transcript(seeded: Seeded) -> None:
    result = invoke(seeded.settings, "show", seeded.topup)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"{seeded.topup}  [open] high topup_problem  brand=upay\nsummary: ")
    details = out.split("details:\n", 1)[1].split("checklist trail:\n", 1)[0]
    assert "  amount: 100\n" in details and "  method: 银行卡\n" in details
    # The contact is masked as the console shows it before an audited reveal.
    assert "  contact: 138****5678\n" in details
    assert "13812345678" not in out
    trail = out.split("checklist trail:\n", 1)[1].split("transcript:\n", 1)[0].splitlines()
    assert trail[0].startswith("  - topup_problem/account_info: 请核对充值时填写的银行卡信息")
    assert trail[1] == "      answer: 还是不行"
    assert "      answer: 有冻结提示" in trail
    # A notice asks nothing: no answer line under it.
    notice = next(i for i, line in enumerate(trail) if line.startswith("  - topup_problem/unlock_support: "))
    assert trail[notice + 1].startswith("  - topup_problem/collect:time: ")
    # What the user added after the ticket has no checklist: no "None/" in front of its place.
    assert "  - after_ticket" in trail and "      answer: 138****5678" in trail
    assert not any(line.startswith("  - None") for line in trail)
    # An automatic check is shown with what it found.
    check = trail.index("  - topup_problem/maintenance: 自动检查: check_maintenance_window")
    assert trail[check + 1].startswith("      found: ")
    transcript = out.split("transcript:\n", 1)[1].splitlines()
    assert transcript[0] == "  user: 充值失败了"
    assert "  user: 138****5678" in transcript


def test_show_accepts_the_short_number(seeded: Seeded) -> None:
    short = "wb" + seeded.handoff.removeprefix("WB-").lstrip("0")
    result = invoke(seeded.settings, "show", short)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:4] == [
        f"{seeded.handoff}  [open] normal human_request  brand=kdou",
        "summary: 用户要求人工客服",
        "details:",
        "checklist trail:",
    ]
    assert "\ntranscript:\n  user: 转人工\n" in result.output


@pytest.mark.parametrize("number", ["WB-999999", "no-such-ticket"])
def test_show_an_unknown_ticket(seeded: Seeded, number: str) -> None:
    result = invoke(seeded.settings, "show", number)
    assert result.exit_code == 1
    assert result.output == f"error: No ticket '{number}'; `walletbot tickets list` shows the existing ones.\n"


def test_show_without_a_number_is_a_usage_error(settings: Settings) -> None:
    result = invoke(settings, "show")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: Missing argument 'NUMBER'."
