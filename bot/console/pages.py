"""How the console answers: HTML pages from its templates, and error pages or JSON errors.

Kept apart from the nouns (queue, tickets, users…) so that every page gets the same frame (who
is signed in, the CSRF token, the time zone) and every refusal the same shape, whichever
module refused.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.console.errors import ConsoleError, NotSignedIn
from bot.request_ids import current_id

if TYPE_CHECKING:
    from bot.config_texts import ConsoleSettings
    from bot.console.session import Ctx

ROOT = "/console"
API_ROOT = "/console/api/"
# Admin endpoints for scripts: outside /console, but console sessions and the same JSON errors.
ADMIN_API_ROOT = "/api/admin/"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class Pages:
    """The console's templates, loaded once per router."""

    def __init__(self) -> None:
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every value escaped, whatever the file name
            undefined=jinja2.StrictUndefined,
        )

    def render(
        self,
        ctx: Ctx | None,
        template: str,
        *,
        status: int = 200,
        config: ConsoleSettings | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """An HTML page; ``config`` is only needed when there is no context (error pages)."""
        config = ctx.config if ctx else config
        if config is None:
            raise ValueError("render() needs a request context or the console config.")
        page = self.templates.get_template(template).render(
            t=config.text,
            name=config.name,
            root=ROOT,
            user=ctx.user if ctx else None,
            is_admin=ctx.is_admin if ctx else False,
            csrf=ctx.csrf if ctx else "",
            zone=config.zone_name,
            flash=values.pop("flash", None),
            error=values.pop("error", None),
            **values,
        )
        return HTMLResponse(page, status_code=status)

    def error_response(self, request: Request, exc: ConsoleError, config: ConsoleSettings | None) -> Response:
        """The refusal as JSON under the API roots, else as a page (plain text without a config);
        no session on a page redirects to the sign-in form, coming back here afterwards."""
        is_api = request.url.path.startswith((API_ROOT, ADMIN_API_ROOT))
        if isinstance(exc, NotSignedIn) and not is_api:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            query = urllib.parse.urlencode({"next": target}) if request.method == "GET" else ""
            return RedirectResponse(f"{ROOT}/login" + (f"?{query}" if query else ""), status_code=303)
        if is_api:
            error = {"code": exc.code, "message": exc.message}
            if exc.status >= 500:
                error["request_id"] = current_id() or ""
            return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)
        if config is None:  # not ready yet
            return Response(
                exc.message,
                status_code=exc.status,
                headers=exc.headers,
                media_type="text/plain; charset=utf-8",
            )
        response = self.render(None, "error.html", status=exc.status, config=config, message=exc.message, code=exc.code)
        response.headers.update(exc.headers)
        return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, never another site."""
    if not target or not target.startswith(ROOT) or target.startswith("//") or "\\" in target:
        return ROOT
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return ROOT
    return target


def ticket_url(number: str, **query: str) -> str:
    """The ticket's page, with ``?done=…`` and the like for Post/Redirect/Get."""
    url = f"{ROOT}/tickets/{urllib.parse.quote(number)}"
    return f"{url}?{urllib.parse.urlencode(query)}" if query else url
