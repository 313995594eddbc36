"""`walletbot` command line: a thin wrapper that turns errors into one line and an exit code."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bot.config import Settings, load_settings
from bot.errors import ContentError, WalletbotError

if TYPE_CHECKING:
    from bot.engine import Assistant
    from bot.faq.index import FaqIndex

EXIT_ERROR = 1
EXIT_WARNINGS = 2
_CLI_NAMESPACE = uuid.UUID("5b1c0d3e-8f43-4b8e-9a57-6c1f2f0f7a11")


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings_factory"]()
    return settings


def _fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(EXIT_ERROR)


def _progress(message: str) -> None:
    click.echo(f"  · {message}", err=True)


def _assistant(ctx: click.Context, *, auto_train: bool = True) -> Assistant:
    from bot.engine import Assistant

    settings = _settings(ctx)
    return Assistant.from_settings(settings, auto_train=auto_train, progress=_progress)


class _LazyGroup(click.Group):
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


class _Cli(_LazyGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ContentError as exc:
            for problem in exc.problems:
                if problem.severity == "error":
                    click.echo(str(problem), err=True)
            _fail(f"{len([p for p in exc.problems if p.severity == 'error'])} content error(s); fix them and run again")
        except WalletbotError as exc:
            _fail(str(exc))


@click.group(
    cls=_Cli,
    lazy={
        "users": "bot.console.commands:users",
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
    cached: dict[str, Settings] = {}

    def factory() -> Settings:
        if "s" not in cached:
            cached["s"] = load_settings(config_path)
        return cached["s"]

    ctx.obj = {"settings_factory": factory, "config_path": config_path}


@main.command()
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the intent classifier from data/nlu into models/."""
    from bot.training import train as run_training

    settings = _settings(ctx)
    report = run_training(settings, _progress)
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

    settings = _settings(ctx)
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

    settings = _settings(ctx)
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


@main.group()
def tickets() -> None:
    """Inspect support tickets."""


@tickets.command("list")
@click.option("--status", default=None)
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def tickets_list(ctx: click.Context, status: str | None, limit: int) -> None:
    """The queue: open tickets first, by priority then age."""
    from bot.store import Database, TicketQuery, list_tickets
    from bot.store.models import TicketStatus, coerce_enum

    wanted = coerce_enum(TicketStatus, status, "ticket status") if status else None
    db = Database(_settings(ctx).database_url)
    db.migrate()
    with db.session(readonly=True) as s:
        rows, total = list_tickets(s, TicketQuery(status=wanted, per_page=limit))
        for t in rows:
            click.echo(
                f"{t.number}  {t.status:<16} {t.priority:<7} {t.category:<20} {t.created_at:%Y-%m-%d %H:%M}  {t.summary}"
            )
        click.echo(f"{total} ticket(s)")
    db.dispose()


@tickets.command("show")
@click.argument("number")
@click.pass_context
def tickets_show(ctx: click.Context, number: str) -> None:
    """One ticket with its details, checklist trail and transcript (as stored, redacted)."""
    from bot.store import Database, list_turns
    from bot.store.tickets import get_ticket

    db = Database(_settings(ctx).database_url)
    db.migrate()
    with db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        if ticket is None:
            _fail(f"No ticket '{number}'; `walletbot tickets list` shows the existing ones.")
        click.echo(f"{ticket.number}  [{ticket.status}] {ticket.priority} {ticket.category}  brand={ticket.brand}")
        click.echo(f"summary: {ticket.summary}")
        click.echo("details:")
        for key, value in (ticket.details or {}).items():
            click.echo(f"  {key}: {value}")
        click.echo("checklist trail:")
        for entry in ticket.trail or []:
            if entry.get("say") is not None:
                click.echo(f"  - {entry.get('flow')}/{entry.get('step')}: {entry.get('say')}")
                if entry.get("answer"):
                    click.echo(f"      answer: {entry['answer']}")
        click.echo("transcript:")
        for turn in list_turns(s, ticket.conversation_id):
            click.echo(f"  {turn.role}: {turn.text or turn.payload}")
    db.dispose()


def _faq_index(settings: Settings) -> FaqIndex:
    """The FAQ index as the server builds it, without needing a trained model."""
    from bot.content import errors_of, load_content
    from bot.faq.index import FaqIndex, load_synonym_subset
    from bot.nlu.features import Tokenizer

    content = load_content(settings)
    errors = [p for p in errors_of(content.problems) if "/faq/" in p.file or p.file.startswith("faq")]
    if errors:
        raise ContentError(errors)
    terms = content.training.lookups.get("domain_terms", []) + content.training.lookups.get("payment_method", [])
    return FaqIndex(
        content.faq,
        Tokenizer(content.training.synonyms, terms, content.training.gazetteers()),
        synonyms=load_synonym_subset(settings.models_dir),
    )


@main.group()
def faq() -> None:
    """Preview and test FAQ retrieval before publishing."""


@faq.command("search")
@click.argument("question")
@click.option("--brand", default=None, help="only entries this brand sees")
@click.option("-k", "limit", default=5, show_default=True)
@click.pass_context
def faq_search(ctx: click.Context, question: str, brand: str | None, limit: int) -> None:
    """Show the entries a user question would hit, with scores and the words that matched."""
    from bot.nlu.normalize import normalize

    settings = _settings(ctx)
    index = _faq_index(settings)
    hits = index.search(normalize(question), brand=brand, k=limit)
    answer, suggest = settings.faq.answer_threshold, settings.faq.suggest_threshold
    if not hits:
        click.echo("no FAQ entry shares a word with this question")
    for rank, hit in enumerate(hits, start=1):
        verdict = (
            "answers"
            if rank == 1 and settings.faq.answers(hit)
            else "suggested"
            if hit.score >= suggest
            else "too weak"
        )
        click.echo(f"{rank}. {hit.entry.id:<28} {hit.score:.3f}  {verdict}")
        click.echo(f"     best wording: {hit.best_text}")
        click.echo(f"     matched: {'、'.join(hit.matched) or '(pinyin or character pairs only)'}")
    click.echo(
        f"thresholds: answer ≥ {answer} with a lead ≥ {settings.faq.answer_margin}, suggest ≥ {suggest} (config.yml faq.*)"
    )


@faq.command("test")
@click.option("--held-out", is_flag=True, help="remove each wording from the index while testing it (stricter)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def faq_test(ctx: click.Context, held_out: bool, fmt: str) -> None:
    """Every question and alternate must find its own entry first; thin wins are listed too."""
    from bot.faq.quality import check_wordings

    checks = check_wordings(_faq_index(_settings(ctx)), held_out=held_out)
    failed = [c for c in checks if c.status == "fail"]
    thin = [c for c in checks if c.status == "thin"]
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "checked": len(checks),
                    "failed": len(failed),
                    "thin": len(thin),
                    "problems": [
                        c.__dict__ if hasattr(c, "__dict__") else {f: getattr(c, f) for f in c.__slots__}
                        for c in failed + thin
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in failed + thin:
            if c.status == "fail":
                click.echo(
                    f"FAIL  {c.entry_id:<26} {c.wording!r} is taken by '{c.winner_id}' (own score {c.score:.3f}, {c.margin:+.3f})"
                )
            else:
                click.echo(f"thin  {c.entry_id:<26} {c.wording!r} wins by {c.margin:.3f} over '{c.runner_up_id}'")
        click.echo(f"{len(checks)} wordings: {len(failed)} fail, {len(thin)} thin margin")
    if failed:
        sys.exit(EXIT_ERROR)


@main.group(
    cls=_LazyGroup,
    lazy={"stats": "bot.insights.commands:stats_command", "funnel": "bot.insights.commands:funnel_command"},
)
def report() -> None:
    """Reports for content editors and support leads."""


@report.command("unanswered")
@click.option("--since", default="7d", show_default=True, help="how far back: 7d, 12h, 2w")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", help="yaml: FAQ stubs to fill in"
)
@click.pass_context
def report_unanswered(ctx: click.Context, since: str, fmt: str) -> None:
    """What users asked that the bot could not answer, grouped, with the nearest FAQ entry."""
    from bot.reports import collect_unanswered, group_unanswered, since_datetime, yaml_stubs
    from bot.store import Database

    settings = _settings(ctx)
    try:
        start = since_datetime(since)
    except ValueError as exc:
        _fail(str(exc))
    index = _faq_index(settings)
    db = Database(settings.database_url)
    db.migrate()
    try:
        groups = group_unanswered(collect_unanswered(db, start), index.tokenizer, index)
    finally:
        db.dispose()
    if fmt == "json":
        click.echo(json.dumps([g.as_dict() for g in groups], ensure_ascii=False, indent=2))
    elif fmt == "yaml":
        click.echo(yaml_stubs(groups))
    else:
        for g in groups:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(g.reasons.items()))
            near = f"nearest FAQ: {g.nearest_faq} ({g.nearest_score:.2f})" if g.nearest_faq else "no similar FAQ entry"
            click.echo(f"{g.count:>4} × {g.examples[0]}   [{reasons}; {near}]")
            for example in g.examples[1:]:
                click.echo(f"       · {example}")
        click.echo(
            f"{sum(g.count for g in groups)} unanswered message(s) in {len(groups)} group(s) since {start:%Y-%m-%d %H:%M} UTC"
        )


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
    from bot.store import Database, StoreError

    settings = _settings(ctx)
    if strict_content:
        settings = settings.model_copy(update={"content": ContentSettings(strict=True)})
        os.environ["WALLETBOT_CONTENT_STRICT"] = "true"  # the workers read their settings from the environment
    fallback = prepare_to_serve(settings, progress=_progress)
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
    # Checked here, once, so that an unreachable database is one clear line and a non-zero
    # status rather than a traceback from every worker.
    try:
        with Database(settings.database_url) as db:
            db.migrate()
    except StoreError as exc:
        _fail(str(exc))
    # Each worker builds its app from the environment: hand it the config file and the worker
    # count chosen here (several workers share rate limits through the database or Redis).
    chosen = ctx.obj["config_path"] or os.environ.get("WALLETBOT_CONFIG") or "config.yml"
    os.environ["WALLETBOT_CONFIG"] = str(Path(chosen).resolve())
    os.environ["WALLETBOT_HTTP_WORKERS"] = str(workers)
    if workers > 1:  # fail on a busy port before starting anything
        try:
            tcp_listener(host, port).close()
        except OSError as exc:
            _fail(f"Cannot listen on {host}:{port}: {exc.strerror}. Is another server running there?")

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
