"""`walletbot users`: console accounts for support agents and admins; `walletbot tickets`: the
tickets they work on, listed and shown in the terminal.

    walletbot users add alice --role agent          # password asked twice, not echoed
    printf 'secret-pass\n' | walletbot users add ci --role admin --password-stdin
    walletbot users list

`walletbot` loads both groups when they are used (bot.cli); `users` also runs on its own
(``python -m bot.console.commands``). Settings come from ``--config`` on `users`, else from
the parent command's ``--config``, else from ``$WALLETBOT_CONFIG`` / ``./config.yml``
(bot.cli_support.use_config).
"""

from __future__ import annotations

import sys

import click

from bot.cli_support import OneLineErrorsGroup, fail, open_database, settings_of, use_config
from bot.store import Role, TicketQuery, TicketStatus, create_user, list_tickets, list_users
from bot.store.queue import MAX_PER_PAGE
from bot.store.users import MIN_PASSWORD_LENGTH


@click.group(cls=OneLineErrorsGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="config file (default: the parent command's, $WALLETBOT_CONFIG or ./config.yml)",
)
@click.pass_context
def users(ctx: click.Context, config_path: str | None) -> None:
    """Console accounts: support agents and admins who sign in to /console."""
    use_config(ctx, config_path)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(
        click.prompt(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt="Repeat the password",
        )
    )


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.AGENT.value,
    show_default=True,
    help="agent: works tickets; admin: also manages accounts, reassigns and exports contacts",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of standard input (for scripts)",
)
@click.pass_context
def add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create the console account NAME."""
    settings = settings_of(ctx)
    password = _read_password(password_stdin)
    with open_database(settings) as db, db.session() as s:
        user = create_user(s, name, role, password)
        created, created_role = user.name, user.role.value
    click.echo(f"created {created_role} '{created}'")


@users.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """Show every console account: name, role, created, last sign-in (UTC)."""
    with open_database(settings_of(ctx)) as db, db.session(readonly=True) as s:
        rows = [
            (
                u.name,
                u.role.value,
                u.created_at.strftime("%Y-%m-%d %H:%M"),
                u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never",
            )
            for u in list_users(s)
        ]
    if not rows:
        click.echo("no console users yet: add one with `walletbot users add NAME --role admin`")
        return
    width = max(len("name"), *(len(r[0]) for r in rows))
    click.echo(f"{'name':<{width}}  {'role':<5}  {'created':<16}  last sign-in")
    for name, role, created, last in rows:
        click.echo(f"{name:<{width}}  {role:<5}  {created:<16}  {last}")


@click.group()
def tickets() -> None:
    """Inspect support tickets."""


@tickets.command("list")
@click.option("--status", type=click.Choice([s.value for s in TicketStatus]), default=None, help="only this status")
@click.option(
    "--limit", type=click.IntRange(1, MAX_PER_PAGE), default=50, show_default=True, help="how many tickets to show"
)
@click.pass_context
def tickets_list(ctx: click.Context, status: str | None, limit: int) -> None:
    """The queue: open tickets first, by priority then age."""
    with open_database(settings_of(ctx)) as db, db.session(readonly=True) as s:
        rows, total = list_tickets(s, TicketQuery(status=TicketStatus(status) if status else None, per_page=limit))
        # One line a ticket: a summary of several lines (the problem, then the user's words) is
        # folded the way the console's page folds it.
        lines = [
            f"{t.number}  {t.status:<16} {t.priority:<7} {t.category:<20} {t.created_at:%Y-%m-%d %H:%M}  "
            f"{' '.join(t.summary.split())}"
            for t in rows
        ]
    for line in lines:
        click.echo(line)
    if total > len(lines):
        click.echo(f"{len(lines)} of {total} ticket(s) shown; --limit shows more")
    else:
        click.echo(f"{total} ticket(s)")


@tickets.command("show")
@click.argument("number")
@click.pass_context
def tickets_show(ctx: click.Context, number: str) -> None:
    """One ticket with its details (contacts masked, as the console shows them before a reveal),
    checklist trail and transcript (as stored, redacted)."""
    from bot.console.views import Formatter, shown_details, trail_items
    from bot.store import list_turns
    from bot.store.models import utcnow
    from bot.store.tickets import get_ticket

    settings = settings_of(ctx)
    with open_database(settings) as db, db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        if ticket is None:
            fail(f"No ticket '{number}'; `walletbot tickets list` shows the existing ones.")
        lines = [
            f"{ticket.number}  [{ticket.status}] {ticket.priority} {ticket.category}  brand={ticket.brand}",
            f"summary: {ticket.summary}",
            "details:",
            *(f"  {key}: {value}" for key, value in shown_details(ticket.details or {}).items()),
            "checklist trail:",
        ]
        # The console's reading of the trail: automatic checks with their findings, notices
        # without an answer, questions left unanswered marked as such.
        for item in trail_items(ticket.trail or [], Formatter(settings.console, settings, utcnow())):
            place = "/".join(part for part in (item["flow"], item["step"]) if part)
            lines.append(f"  - {place}: {item['say']}" if item["say"] else f"  - {place}")
            if item["answer"]:
                lines.append(f"      {'found' if item['kind'] == 'action' else 'answer'}: {item['answer']}")
        lines.append("transcript:")
        lines.extend(f"  {turn.role}: {turn.text or turn.payload}" for turn in list_turns(s, ticket.conversation_id))
    for line in lines:
        click.echo(line)


if __name__ == "__main__":
    users()
