"""What the `walletbot` command modules share (bot.cli and the groups it loads lazily: faq,
tickets, users, report, eval…): the exit codes, the settings and config file of this invocation,
the one-line failure and the errors turned into it, progress lines on stderr, the migrated
database a command works on, and the group that imports a command only when it is used.

Settings travel in ``ctx.obj["settings_factory"]``: a group with a ``--config`` of its own
(`walletbot`, `walletbot users`) installs one with `use_config`; a command reads it with
`settings_of`, which also serves a command run on its own (tests call commands through click's
runner without the group).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bot.config import DEFAULT_CONFIG, ENV_PREFIX, Settings, load_settings
from bot.errors import ContentError, WalletbotError

if TYPE_CHECKING:
    from bot.store import Database

EXIT_ERROR = 1
EXIT_WARNINGS = 2


def use_config(ctx: click.Context, config_path: str | None) -> None:
    """Give the commands below this group their settings: from `config_path` (the group's
    --config) when given, else the parent group's, else $WALLETBOT_CONFIG or ./config.yml.
    Read once, when a command first asks (`walletbot --help` reads no file)."""
    parent = ctx.obj if isinstance(ctx.obj, dict) else {}
    inherited = parent.get("settings_factory") if config_path is None else None
    cached: dict[str, Settings] = {}

    def factory() -> Settings:
        if "settings" not in cached:
            cached["settings"] = inherited() if inherited is not None else load_settings(config_path)
        return cached["settings"]

    ctx.obj = {**parent, "settings_factory": factory, "config_path": config_path or parent.get("config_path")}


def settings_of(ctx: click.Context, config_path: str | None = None) -> Settings:
    """The settings of this invocation: from `config_path` (a command's own --config) when given,
    else those its group installed (`use_config`), else $WALLETBOT_CONFIG or ./config.yml."""
    if config_path is not None:
        return load_settings(config_path)
    factory = ctx.obj.get("settings_factory") if isinstance(ctx.obj, dict) else None
    settings: Settings = factory() if factory is not None else load_settings(None)
    return settings


def config_path_of(ctx: click.Context, config_path: str | None = None) -> Path:
    """The config file itself, for child processes (`serve` workers, `bench` servers): the
    command's --config, else the group's, else $WALLETBOT_CONFIG, else ./config.yml."""
    group = ctx.obj.get("config_path") if isinstance(ctx.obj, dict) else None
    return Path(config_path or group or os.environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG).resolve()


@contextlib.contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The configured database, migrated, disposed when the command is done with it."""
    from bot.store import Database  # SQLAlchemy: only for the commands that use the store

    with Database(settings.database_url) as db:
        db.migrate()
        yield db


def fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
    """One red line on stderr and exit code `status` (1 unless said otherwise)."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(status)


@contextlib.contextmanager
def errors_in_one_line(status: int = EXIT_ERROR) -> Iterator[None]:
    """The product's errors as one red line and exit code `status`; content errors list their
    file:line problems first."""
    try:
        yield
    except ContentError as exc:
        errors = [p for p in exc.problems if getattr(p, "severity", "error") == "error"]
        for problem in errors:
            click.echo(str(problem), err=True)
        fail(f"{len(errors)} content error(s); fix them and run again", status)
    except WalletbotError as exc:
        fail(str(exc), status)


def progress(message: str) -> None:
    click.echo(f"  · {message}", err=True)


class OneLineErrorsGroup(click.Group):
    """A group whose commands' errors become one red line and exit code 1 (`errors_in_one_line`)."""

    def invoke(self, ctx: click.Context) -> Any:
        with errors_in_one_line():
            return super().invoke(ctx)


class LazyGroup(OneLineErrorsGroup):
    """A group whose commands from other parts of the product (console, insights, measure) are
    imported when one is run or listed, not when `bot.cli` is imported.

    `lazy` maps a command name to "module:attribute".
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attribute = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)
