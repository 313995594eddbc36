"""What the `walletbot` command modules share (bot.cli and the groups it loads lazily: faq,
tickets, users, report, eval…): the exit codes, the settings of this invocation, the one-line
failure, progress lines on stderr, and the group that imports a command only when it is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

import click

from bot.config import Settings

EXIT_ERROR = 1
EXIT_WARNINGS = 2


def settings_of(ctx: click.Context) -> Settings:
    """The settings of this invocation (`walletbot --config`, $WALLETBOT_CONFIG or ./config.yml),
    loaded on first use by the factory `bot.cli.main` puts in `ctx.obj`."""
    settings: Settings = ctx.obj["settings_factory"]()
    return settings


def fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 1."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(EXIT_ERROR)


def progress(message: str) -> None:
    click.echo(f"  · {message}", err=True)


class LazyGroup(click.Group):
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
