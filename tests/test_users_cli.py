"""`walletbot users` (bot/console/commands.py) through click's runner: exit codes and whole messages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.config import load_settings
from bot.console.commands import users
from bot.store import Database, authenticate, get_user

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of config.yml in an empty folder: its SQLite file lands next to it."""
    path = tmp_path / "config.yml"
    shutil.copy(PROJECT / "config.yml", path)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(config: Path) -> Iterator[Database]:
    database = Database(load_settings(config, environ={}).database_url)
    yield database
    database.dispose()


def run(runner: CliRunner, config: Path, *args: str, input: str | None = None):  # noqa: ANN201
    # A developer's WALLETBOT_DATABASE_URL must not send the test to another database.
    return runner.invoke(users, ["--config", str(config), *args], input=input, env={"WALLETBOT_DATABASE_URL": ""})


def test_add_prompts_twice_without_echo(runner: CliRunner, config: Path, db: Database) -> None:
    result = run(runner, config, "add", "alice", "--role", "agent", input="alice-password-1\nalice-password-1\n")
    assert result.exit_code == 0, result.output
    assert "alice-password-1" not in result.output  # hidden input
    assert result.output.count("Password (at least 8 characters): ") == 1
    assert "Repeat the password: " in result.output
    assert result.output.endswith("created agent 'alice'\n")
    with db.session() as s:
        user = authenticate(s, "alice", "alice-password-1")
        assert user is not None and user.role.value == "agent"
        assert user.password_hash.startswith("$argon2id$")


def test_add_reads_the_password_from_stdin(runner: CliRunner, config: Path, db: Database) -> None:
    result = run(runner, config, "add", "ops", "--role", "admin", "--password-stdin", input="ops-password-123\n")
    assert result.exit_code == 0, result.output
    assert result.output == "created admin 'ops'\n"
    with db.session() as s:
        assert authenticate(s, "ops", "ops-password-123") is not None
        assert authenticate(s, "ops", "ops-password-123\n") is None  # the newline is not part of it


def test_role_defaults_to_agent_and_must_be_known(runner: CliRunner, config: Path) -> None:
    assert (
        run(runner, config, "add", "bo", "--password-stdin", input="bo-password-1\n").output == "created agent 'bo'\n"
    )
    bad = run(runner, config, "add", "cy", "--role", "boss", "--password-stdin", input="cy-password-1\n")
    assert bad.exit_code == 2
    assert "Invalid value for '--role': 'boss' is not one of 'agent', 'admin'." in bad.output


def test_duplicate_name_is_refused(runner: CliRunner, config: Path) -> None:
    assert run(runner, config, "add", "alice", "--password-stdin", input="alice-password-1\n").exit_code == 0
    again = run(runner, config, "add", "alice", "--role", "admin", "--password-stdin", input="other-password-1\n")
    assert again.exit_code == 1
    assert again.output == (
        "error: A console user named 'alice' already exists: choose another name, "
        "or change the existing user's password instead.\n"
    )


def test_short_password_is_refused_without_quoting_it(runner: CliRunner, config: Path, db: Database) -> None:
    result = run(runner, config, "add", "dan", "--password-stdin", input="short\n")
    assert result.exit_code == 1
    assert result.output == ("error: Password for console user 'dan' is too short (5 characters): use at least 8.\n")
    with db.session() as s:
        assert get_user(s, "dan") is None


def test_mismatched_prompts_ask_again(runner: CliRunner, config: Path) -> None:
    result = run(runner, config, "add", "eve", input="eve-password-1\neve-password-2\neve-password-3\neve-password-3\n")
    assert result.exit_code == 0, result.output
    assert "Error: The two entered values do not match." in result.output
    assert result.output.endswith("created agent 'eve'\n")


def test_list_shows_names_roles_and_sign_ins(runner: CliRunner, config: Path, db: Database) -> None:
    empty = run(runner, config, "list")
    assert empty.exit_code == 0
    assert empty.output == "no console users yet: add one with `walletbot users add NAME --role admin`\n"

    run(runner, config, "add", "zoe", "--role", "admin", "--password-stdin", input="zoe-password-1\n")
    run(runner, config, "add", "amy", "--password-stdin", input="amy-password-1\n")
    with db.session() as s:
        authenticate(s, "zoe", "zoe-password-1")
    listed = run(runner, config, "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["name", "role", "created", "last", "sign-in"]
    assert [line.split()[:2] for line in lines[1:]] == [["amy", "agent"], ["zoe", "admin"]]
    assert lines[1].endswith("never") and not lines[2].endswith("never")


def test_a_missing_config_is_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(users, ["--config", str(tmp_path / "nope.yml"), "list"])
    assert result.exit_code == 1
    assert result.output == (
        f"error: Config file '{tmp_path / 'nope.yml'}' not found: run from the project folder "
        "or set WALLETBOT_CONFIG.\n"
    )


def test_under_a_parent_command_it_uses_the_parents_settings(runner: CliRunner, config: Path, db: Database) -> None:
    # The shape of `walletbot`: the parent puts a settings factory in ctx.obj.
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = {"settings_factory": lambda: load_settings(config, environ={})}

    main.add_command(users)
    result = runner.invoke(main, ["users", "add", "kim", "--password-stdin"], input="kim-password-1\n")
    assert result.exit_code == 0, result.output
    with db.session() as s:
        assert get_user(s, "kim") is not None
