"""The portal's web pages: sign-in, keys, the reveal screen, the Verify console, releases.

Pages are server-rendered HTML from `templates/` with small scripts from
`static/`. The API serves all of it itself, so the pages work offline and
make no third-party requests.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.routers.auth import cookie_is_secure
from api.web import pages, reports
from api.web.csrf import CsrfMiddleware
from api.web.headers import PageHeadersMiddleware


def install_web(app: FastAPI) -> None:
    """Add the pages, their static files, security headers and the CSRF check to `app`."""
    app.include_router(pages.router)
    app.include_router(reports.router)
    app.mount("/portal/static", StaticFiles(directory=pages.STATIC_DIR), name="portal-static")
    app.add_middleware(PageHeadersMiddleware)
    app.add_middleware(CsrfMiddleware, secure=cookie_is_secure(app.state.settings))
