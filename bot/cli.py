"""`walletbot` command line: a thin wrapper that turns errors into one line and an exit code.

Here: the group, `train`, `parse`, `chat`, `validate` and `serve`. The other groups live with their
part and are imported when used: `faq` (bot.faq.commands), `tickets` and `users`
(bot.console.commands), `report` (bot.insights.commands), `eval`, `bench` and `test`
(bot.measure.commands); what they share is in bot.cli_support.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from bot.cli_support import (
    EXIT_ERROR,
    EXIT_WARNINGS,
    LazyGroup,
    config_path_of,
    fail,
    open_database,
    progress,
    settings_of,
    use_config,
)
from bot.errors import WalletbotError

if TYPE_CHECKING:
    from bot.engine import Assistant

_CLI_NAMESPACE = uuid.UUID("5b1c0d3e-8f43-4b8e-9a57-6c1f2f0f7a11")


def _assistant(ctx: click.Context, *, auto_train: bool = True) -> Assistant:
    from bot.engine import Assistant

    settings = settings_of(ctx)
    return Assistant.from_settings(settings, auto_train=auto_train, progress=progress)


@click.group(
    cls=LazyGroup,
    lazy={
        "users": "bot.console.commands:users",
        "tickets": "bot.console.commands:tickets",
        "faq": "bot.faq.commands:faq",
        "report": "bot.insights.commands:report",
        "eval": "bot.measure.commands:eval_command",
        "bench": "bot.measure.commands:bench_command",
        "test": "bot.measure.commands:test_command",
    },
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="config file (default: $WALLETBOT_CONFIG or ./config.yml)",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Wallet support assistant: train, chat, serve, validate and inspect tickets."""
    use_config(ctx, config_path)


@main.command()
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the intent classifier from data/nlu into models/."""
    from bot.training import train as run_training

    settings = settings_of(ctx)
    report = run_training(settings, progress)
    click.echo(
        f"trained {report.intents} intents on {report.examples} examples "
        f"({report.features} features) in {report.seconds:.1f} s -> {settings.models_dir / 'nlu'}"
    )


@main.command()
@click.pass_context
def parse(ctx: click.Context) -> None:
    """Read one message per line on stdin; write one JSON object per line."""
    from bot.nlu.pipeline import NLU
    from bot.training import ensure_model

    settings = settings_of(ctx)
    ensure_model(settings, auto_train=False)
    nlu = NLU.load(settings.models_dir)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        click.echo(json.dumps(nlu.parse(text), ensure_ascii=False))


@main.command()
@click.option("--jsonl", is_flag=True, help="machine mode: JSON lines in, JSON lines out")
@click.option("--brand", default=None, help="brand key from config.yml (interactive mode)")
@click.pass_context
def chat(ctx: click.Context, jsonl: bool, brand: str | None) -> None:
    """Talk to the bot in the terminal (buttons become numbered choices)."""
    assistant = _assistant(ctx, auto_train=True)
    try:
        if jsonl:
            _chat_jsonl(assistant)
        else:
            _chat_interactive(assistant, brand)
    finally:
        assistant.close()


def _chat_jsonl(assistant: Assistant) -> None:
    """One JSON reply line per input line; a bad line gets an error object, never a crash."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("each line must be a JSON object")
            unknown = set(request) - {"conversation", "text", "payload", "brand"}
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            external = str(request.get("conversation") or "default")
            # A stable internal id per external id: a later process continues the conversation.
            internal = uuid.uuid5(_CLI_NAMESPACE, external).hex
            if not assistant.exists(internal):
                assistant.start_conversation(brand=request.get("brand"), channel="cli", conversation_id=internal)
            reply = assistant.handle(internal, text=request.get("text"), payload=request.get("payload"))
            reply["conversation"] = external
        except (ValueError, WalletbotError) as exc:
            reply = {"error": {"code": getattr(exc, "code", "bad_request"), "message": str(exc)}}
        click.echo(json.dumps(reply, ensure_ascii=False), nl=True)
        sys.stdout.flush()


def _chat_interactive(assistant: Assistant, brand: str | None) -> None:
    conv_id, _token = assistant.start_conversation(brand=brand, channel="cli")
    name = assistant.settings.brand(brand).name
    click.secho(f"{name} 智能助手（输入问题，数字选择按钮，Ctrl+D 退出）", bold=True)
    buttons: list[dict[str, str]] = []
    while True:
        try:
            line = input("\n你> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            reply = assistant.handle(conv_id, payload=buttons[int(line) - 1]["payload"])
        else:
            reply = assistant.handle(conv_id, text=line)
        buttons = []
        for message in reply["messages"]:
            if message["text"]:
                click.secho("助手> ", fg="green", nl=False)
                click.echo(message["text"])
            buttons.extend(message["buttons"])
        for number, button in enumerate(buttons, start=1):
            click.echo(f"  [{number}] {button['title']}")
        if reply["state"].get("ticket"):
            click.secho(f"  工单号：{reply['state']['ticket']}", fg="yellow")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--strict", is_flag=True, help="exit 2 when there are warnings but no errors")
@click.pass_context
def validate(ctx: click.Context, fmt: str, strict: bool) -> None:
    """Check every file in data/ and report problems as file:line: message."""
    from bot.content import load_content

    settings = settings_of(ctx)
    content = load_content(settings)
    problems = content.problems
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if fmt == "json":
        click.echo(
            json.dumps(
                {"errors": len(errors), "warnings": len(warnings), "problems": [p.as_dict() for p in problems]},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for problem in problems:
            click.echo(str(problem))
        click.echo(
            f"{len(content.flows)} flows, {len(content.faq)} FAQ entries, {len(content.training.examples)} training examples: "
            f"{len(errors)} error(s), {len(warnings)} warning(s)"
        )
    if errors:
        from bot.content_snapshot import read_snapshot

        snapshot = read_snapshot(settings)
        if snapshot is not None and fmt == "text":
            click.echo(
                f"walletbot serve would start on the last content that loaded (version {snapshot.version} of "
                f"{snapshot.saved_at}) with a warning; with --strict-content it refuses to start."
            )
        sys.exit(EXIT_ERROR)
    if strict and warnings:
        sys.exit(EXIT_WARNINGS)


@main.command()
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option(
    "--workers", default=None, type=click.IntRange(min=1), help="Worker processes [default: http.workers, 1]."
)
@click.option(
    "--strict-content",
    is_flag=True,
    help="Refuse to start when data/ has errors instead of serving the last content that loaded (for CI).",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, strict_content: bool) -> None:
    """Serve the chat API, the bubble and the demo page over HTTP.

    Prints the address once every worker is ready; exits 3 when the app cannot start. When
    data/ has errors, serves the last content that loaded with a warning (exit 1 instead with
    --strict-content or content.strict, or when no content ever loaded).
    """
    from bot.api.server import run_workers, tcp_listener
    from bot.config import ContentSettings
    from bot.content_snapshot import prepare_to_serve

    settings = settings_of(ctx)
    if strict_content:
        settings = settings.model_copy(update={"content": ContentSettings(strict=True)})
        os.environ["WALLETBOT_CONTENT_STRICT"] = "true"  # the workers read their settings from the environment
    fallback = prepare_to_serve(settings, progress=progress)
    if fallback is not None:
        for problem in fallback.problems:
            click.echo(str(problem), err=True)
        click.secho(
            f"warning: data/ has {len(fallback.problems)} error(s) (above); serving the last content that loaded, "
            f"version {fallback.version} of {fallback.saved_at}. Fix the files: the server picks them up without a "
            "restart. --strict-content refuses to start instead.",
            fg="red",
            bold=True,
            err=True,
        )
    host = host or settings.http.host
    port = port if port is not None else settings.http.port
    workers = workers or settings.http.workers
    # Checked here, once, so that an unreachable database is one clear line (a StoreError, which
    # the group prints) and a non-zero status rather than a traceback from every worker.
    with open_database(settings):
        pass
    # Each worker builds its app from the environment: hand it the config file and the worker
    # count chosen here (several workers share rate limits through the database or Redis).
    os.environ["WALLETBOT_CONFIG"] = str(config_path_of(ctx))
    os.environ["WALLETBOT_HTTP_WORKERS"] = str(workers)
    if workers > 1:  # fail on a busy port before starting anything
        try:
            tcp_listener(host, port).close()
        except OSError as exc:
            fail(f"Cannot listen on {host}:{port}: {exc.strerror}. Is another server running there?")

    def announce(url: str) -> None:
        click.secho(f"walletbot: open {url} for the demo page with the chat bubble (Ctrl+C stops)", fg="green")
        click.echo(f"walletbot: support console at {url}console (accounts: `walletbot users add NAME --role admin`)")

    with _shared_metrics_folder() if workers > 1 else contextlib.nullcontext():
        status = run_workers(
            settings, app="bot.api.app:app_from_env", host=host, port=port, workers=workers, announce=announce
        )
    if status:
        click.secho(f"error: the server could not start (see the log above); exit status {status}.", fg="red", err=True)
        sys.exit(status)


@contextlib.contextmanager
def _shared_metrics_folder() -> Iterator[None]:
    """With several workers, each keeps its Prometheus samples in files of one folder that
    /metrics sums up (prometheus-client's multiprocess mode; see bot/metrics.py): a fresh
    folder per run, removed afterwards, unless PROMETHEUS_MULTIPROC_DIR names one already."""
    import shutil
    import tempfile

    from bot.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="walletbot-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    main()
