"""bot.cli_support: the settings a group hands its commands, the config file for child processes,
the migrated database, and the product's errors as one line with an exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from bot.cli_support import (
    OneLineErrorsGroup,
    config_path_of,
    errors_in_one_line,
    open_database,
    settings_of,
    use_config,
)
from bot.config import load_settings
from bot.errors import ConfigError, ContentError
from bot.yamlio import Problem

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "deploy" / "config.yml"
    path.parent.mkdir()
    shutil.copy(PROJECT / "config.yml", path)
    return path


def _group(name: str = "outer") -> click.Group:
    @click.group(name, cls=OneLineErrorsGroup)
    @click.option("--config", "config_path", default=None)
    @click.pass_context
    def group(ctx: click.Context, config_path: str | None) -> None:
        use_config(ctx, config_path)

    return group


def _reporter() -> click.Command:
    """Prints where its settings came from (their root folder) and the config file."""

    @click.command("where")
    @click.option("--config", "config_option", default=None)
    @click.pass_context
    def where(ctx: click.Context, config_option: str | None) -> None:
        click.echo(f"{settings_of(ctx, config_option).root} {config_path_of(ctx, config_option)}")

    return where


def test_a_command_takes_its_own_config_else_its_group_s_else_the_environment(config: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "config.yml"
    other.parent.mkdir()
    shutil.copy(config, other)
    outer, inner = _group("outer"), _group("inner")
    inner.add_command(_reporter())
    outer.add_command(inner)
    runner = CliRunner(env={"WALLETBOT_CONFIG": str(other)})

    def where(*args: str) -> str:
        result = runner.invoke(outer, list(args))
        assert result.exit_code == 0, result.output
        return result.output.strip()

    # The outer group's --config reaches a nested group without one of its own.
    assert where("--config", str(config), "inner", "where") == f"{config.parent} {config}"
    # The nested group's own --config wins over the outer one; the command's over both.
    assert where("--config", str(config), "inner", "--config", str(other), "where") == f"{other.parent} {other}"
    assert where("--config", str(other), "inner", "where", "--config", str(config)) == f"{config.parent} {config}"
    # None given: $WALLETBOT_CONFIG.
    assert where("inner", "where") == f"{other.parent} {other}"
    # A command run on its own, without any group.
    alone = runner.invoke(_reporter(), [])
    assert alone.output.strip() == f"{other.parent} {other}"


def test_the_group_reads_the_file_once_and_only_when_a_command_asks(config: Path) -> None:
    calls: list[str] = []

    @click.group(cls=OneLineErrorsGroup)
    @click.pass_context
    def group(ctx: click.Context) -> None:
        use_config(ctx, None)
        inherited = ctx.obj["settings_factory"]

        def counting():  # noqa: ANN202
            calls.append("read")
            return inherited()

        ctx.obj["settings_factory"] = counting

    @group.command()
    @click.pass_context
    def twice(ctx: click.Context) -> None:
        assert settings_of(ctx) is settings_of(ctx)

    @group.command()
    def nothing() -> None:
        pass

    runner = CliRunner(env={"WALLETBOT_CONFIG": str(config)})
    assert runner.invoke(group, ["nothing"]).exit_code == 0
    assert calls == []
    assert runner.invoke(group, ["twice"]).exit_code == 0
    assert calls == ["read", "read"]  # the factory is asked each time; the file is read once


def test_errors_become_one_red_line_and_the_status() -> None:
    @click.command()
    @click.argument("kind")
    def broken(kind: str) -> None:
        with errors_in_one_line(2 if kind == "config2" else 1):
            if kind == "content":
                raise ContentError(
                    [
                        Problem("data/faq/a.yml", 3, "duplicate FAQ id 'x'"),
                        Problem("data/faq/a.yml", 9, "only a warning", severity="warning"),
                        Problem("data/faq/b.yml", 1, "not a mapping"),
                    ]
                )
            if kind == "other":
                raise ValueError("a bug stays a traceback")
            raise ConfigError("Config 'nlu.intent_threshold' is invalid.")

    runner = CliRunner()
    config = runner.invoke(broken, ["config"])
    assert (config.exit_code, config.output) == (1, "error: Config 'nlu.intent_threshold' is invalid.\n")
    assert runner.invoke(broken, ["config2"]).exit_code == 2
    content = runner.invoke(broken, ["content"])
    assert content.exit_code == 1
    assert content.output.splitlines() == [
        str(Problem("data/faq/a.yml", 3, "duplicate FAQ id 'x'")),
        str(Problem("data/faq/b.yml", 1, "not a mapping")),
        "error: 2 content error(s); fix them and run again",
    ]
    other = runner.invoke(broken, ["other"])
    assert isinstance(other.exception, ValueError)


def test_open_database_migrates_and_disposes(config: Path) -> None:
    settings = load_settings(config, environ={"WALLETBOT_STORAGE_DATABASE_URL": f"sqlite:///{config.parent}/w.db"})
    with open_database(settings) as db:
        assert {"tickets", "conversations", "turns"} <= set(inspect(db.engine).get_table_names())
    assert (config.parent / "w.db").is_file()
