"""The demo page at `/`, the static files of the bubble (`/widget.js`, `/widget.css`) and the
interactive API docs at `/docs`.

The docs are Swagger UI (5.x, which reads FastAPI's OpenAPI 3.1) served from the files of the
`swagger-ui-py` package, not from a CDN: they work offline and behind a firewall, under the same
CSP as every other page.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from bot.config import Settings

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
# Browsers revalidate (ETag) on each load, so a deployment's new widget is picked up at once.
STATIC_CACHE = "no-cache"
# Found without importing the package (its __init__ loads adapters for other web frameworks).
_SWAGGER_SPEC = importlib.util.find_spec("swagger_ui")
SWAGGER_DIR = Path(list(_SWAGGER_SPEC.submodule_search_locations or [])[0] if _SWAGGER_SPEC else ".") / "static"
# The Swagger UI files /docs loads, with their media types.
SWAGGER_FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def make_templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every value is escaped, not only in files named *.html
        undefined=jinja2.StrictUndefined,
    )


@router.get("/", response_class=HTMLResponse)
def demo_page(request: Request, brand: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    current = brand if brand in settings.brands else settings.default_brand
    template = request.app.state.templates.get_template("demo.html")
    html = template.render(
        brands=[(key, b.name, b.color) for key, b in settings.brands.items()],
        current=current,
        current_name=settings.brands[current].name,
        ui=settings.ui,
        base_url=str(request.base_url),
    )
    return HTMLResponse(html)


def _static(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": STATIC_CACHE})


@router.get("/widget.js")
def widget_js() -> FileResponse:
    return _static("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css")
def widget_css() -> FileResponse:
    return _static("widget.css", "text/css; charset=utf-8")


@router.get("/demo.css")
def demo_css() -> FileResponse:
    return _static("demo.css", "text/css; charset=utf-8")


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    template = request.app.state.templates.get_template("docs.html")
    return HTMLResponse(template.render(title=request.app.title, openapi_url=request.app.openapi_url))


@router.get("/docs/assets/{name}")
def api_docs_asset(name: str) -> FileResponse:
    if name == "docs.js":
        return _static("docs.js", "text/javascript; charset=utf-8")
    media_type = SWAGGER_FILES.get(name)
    if media_type is None:
        raise HTTPException(404, f"No docs file {name!r}.")
    return FileResponse(SWAGGER_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
