"""Server-rendered pages of the developer portal.

The pages are shells: their scripts call the same JSON APIs that customers
and DevRel use (`/v1/auth`, `/v1/keys`, `/v1/verify`, `/v1/docs`, `/v1/sdk`)
with `fetch`, so the browser sees exactly what the API does. Signed-out
visitors are sent to the sign-in page by the scripts, on the API's 401.
"""

from __future__ import annotations

import re
from pathlib import Path as FilePath

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.routers.keys import KEY_ID_PATTERN
from api.web.csrf import csrf_token_for, set_csrf_cookie
from api.web.metrics import PAGE_VIEWS
from portal.keys.scopes import SCOPE_DESCRIPTIONS, KeyScope
from portal.settings import Settings

TEMPLATES_DIR = FilePath(__file__).resolve().parent / "templates"
STATIC_DIR = FilePath(__file__).resolve().parent / "static"
HOME_PATH = "/portal/keys"
# Where sign-in may send the user back to: a portal page, never another site.
NEXT_PATH_PATTERN = re.compile(r"^/portal/[A-Za-z0-9_\-/]*$")

templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
router = APIRouter(prefix="/portal", include_in_schema=False)


def temporal_ui_base(settings: Settings) -> str:
    """Return the Temporal UI address that workflow links on the pages start with."""
    base = settings.web_temporal_ui_url or (
        f"http://{settings.temporal_host}:{settings.temporal_ui_port}"
    )
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/"


def safe_next_path(candidate: str | None) -> str:
    """Return `candidate` when it is a portal page, else the home page (no open redirect)."""
    if candidate and NEXT_PATH_PATTERN.fullmatch(candidate) and "//" not in candidate:
        return candidate
    return HOME_PATH


def render_page(request: Request, page: str, template: str, **context: object) -> HTMLResponse:
    """Render `template` in the layout, with a CSRF token for the page's scripts.

    Args:
        request: The page request.
        page: Page name for the navigation and the page-view metric.
        template: Template file under `templates/`.
        **context: Values the template uses beyond the layout's.
    """
    settings: Settings = request.app.state.settings
    token, is_new = csrf_token_for(request)
    html = templates.get_template(template).render(
        page=page,
        csrf_token=token,
        poll_ms=int(settings.web_poll_seconds * 1000),
        **context,
    )
    response = HTMLResponse(html)
    if is_new:
        set_csrf_cookie(request, response, token)
    PAGE_VIEWS.labels(page).inc()
    return response


@router.get("")
async def portal_home() -> RedirectResponse:
    """Send visitors of the portal's root to the keys page."""
    return RedirectResponse(HOME_PATH, status_code=303)


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    next_path: str | None = Query(None, alias="next", max_length=200),
) -> HTMLResponse:
    """Render the sign-in form: email, password and the authenticator's code."""
    return render_page(request, "sign-in", "sign_in.html", next_path=safe_next_path(next_path))


@router.get("/keys")
async def keys_page(request: Request) -> HTMLResponse:
    """Render the tenant's API keys with create, reveal and revoke."""
    scopes = [(scope.value, SCOPE_DESCRIPTIONS[scope]) for scope in KeyScope]
    return render_page(request, "keys", "keys.html", scopes=scopes)


@router.get("/keys/{key_id}/reveal")
async def reveal_page(request: Request, key_id: str = Path(pattern=KEY_ID_PATTERN)) -> HTMLResponse:
    """Render the reveal screen of one key; its script fetches the secret by POST, once."""
    return render_page(request, "reveal", "reveal.html", key_id=key_id)


@router.get("/verify")
async def verify_page(request: Request) -> HTMLResponse:
    """Render the Verify console: start a test verification, follow it and check a code."""
    return render_page(request, "verify", "verify.html")


@router.get("/releases")
async def releases_page(request: Request) -> HTMLResponse:
    """Render docs and SDK release states with links to their workflows, for DevRel."""
    settings: Settings = request.app.state.settings
    return render_page(request, "releases", "releases.html", temporal_ui=temporal_ui_base(settings))
