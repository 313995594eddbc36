"""Console accounts (admins): the list of agents and admins, and creating one.

Passwords are checked here only for what the form can say (both fields equal, long enough);
hashing and the unique name are the store's (``bot.store.users``).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import HTMLResponse, Response

from bot.console.session import Ctx
from bot.store import Role, StoreError, UserExists, create_user, list_users
from bot.store.users import MIN_PASSWORD_LENGTH


def users_page(
    ctx: Ctx,
    *,
    status: int = 200,
    flash: str | None = None,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    ctx.require_admin()
    fmt = ctx.fmt()
    with ctx.db.session(readonly=True) as s:
        users = [
            {
                "name": u.name,
                "role": ctx.config.name("roles", u.role.value),
                "created_at": fmt.time(u.created_at),
                "last_login": fmt.time(u.last_login_at) if u.last_login_at else ctx.config.text("never"),
            }
            for u in list_users(s)
        ]
    return ctx.render(
        "users.html",
        status=status,
        flash=flash,
        error=error,
        users=users,
        roles=[(r.value, ctx.config.name("roles", r.value)) for r in Role],
        form=dict(form or {}),
        min_password=MIN_PASSWORD_LENGTH,
    )


def add_user(ctx: Ctx, name: str, role: str, password: str, repeat: str) -> Response:
    ctx.require_admin()
    form = {"name": name, "role": role}
    if password != repeat:
        return users_page(ctx, status=400, error=ctx.config.text("passwords_differ"), form=form)
    if len(password) < MIN_PASSWORD_LENGTH:
        error = ctx.config.text("password_too_short", min=MIN_PASSWORD_LENGTH)
        return users_page(ctx, status=400, error=error, form=form)
    try:
        with ctx.db.session() as s:
            user = create_user(s, name, role, password)
            created = user.name
    except UserExists as exc:
        error = ctx.config.text("user_exists", name=exc.name)
        return users_page(ctx, status=409, error=error, form=form)
    except StoreError as exc:
        error = ctx.config.text("bad_request", reason=str(exc))
        return users_page(ctx, status=400, error=error, form=form)
    return users_page(ctx, flash=ctx.config.text("user_created", name=created))
