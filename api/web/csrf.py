"""CSRF protection for state-changing calls that browsers make with the portal's cookies.

The session cookie is SameSite=Strict, which already keeps cross-site requests
from carrying it. This adds two checks on top, for every unsafe request that
a browser sends with cookies:

* Origin: when the browser names the page's origin, its host must be this API's.
* Double-submit token: the `X-CSRF-Token` header must equal the CSRF cookie.
  Pages get the token in a `<meta>` tag; the cookie is HttpOnly, so a script
  from another origin can neither read nor set it. Where cookies are
  HTTPS-only, the `__Host-` prefix also stops a sibling subdomain from
  planting one.

Requests without cookies carry no ambient credential (API-key calls, SDKs),
and requests without the `Origin` and `Sec-Fetch-Site` headers that every
current browser sends on unsafe requests come from non-browser clients, which
a forged cross-site page cannot drive. Both pass unchecked.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from enum import StrEnum
from urllib.parse import urlsplit

from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import Problem, problem_response
from api.routers.auth import cookie_is_secure
from api.web.metrics import CSRF_REJECTED

log = logging.getLogger(__name__)

CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "portal_csrf"
# Browsers accept a `__Host-` cookie only when it is Secure, host-only and Path=/.
CSRF_COOKIE_HTTPS = "__Host-portal_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Browsers post CSP reports on their own, without the page's token; the
# endpoint only counts them.
EXEMPT_PATHS = frozenset({"/portal/csp-reports"})
# token_urlsafe(32) yields 43 characters; anything far off was not issued here.
TOKEN_MIN_LENGTH = 32
TOKEN_MAX_LENGTH = 128


class CsrfReason(StrEnum):
    """Reason a request failed the CSRF check, also the metric's `reason` label."""

    CROSS_ORIGIN = "cross_origin"
    MISSING_TOKEN = "missing_token"
    TOKEN_MISMATCH = "token_mismatch"


def csrf_cookie_name(secure: bool) -> str:
    """Return the CSRF cookie's name: `__Host-` prefixed when cookies are HTTPS-only."""
    return CSRF_COOKIE_HTTPS if secure else CSRF_COOKIE


def cookies_secure(request: Request) -> bool:
    """Return whether the portal's cookies are HTTPS-only, as the session cookie is."""
    return cookie_is_secure(request.app.state.settings)


def csrf_token_for(request: Request) -> tuple[str, bool]:
    """Return the request's CSRF token and whether it is new, so its cookie must be set."""
    token = request.cookies.get(csrf_cookie_name(cookies_secure(request)))
    if token and TOKEN_MIN_LENGTH <= len(token) <= TOKEN_MAX_LENGTH:
        return token, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    """Store `token` in the browser's CSRF cookie, for the length of the browser session."""
    secure = cookies_secure(request)
    response.set_cookie(
        csrf_cookie_name(secure),
        token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def check_request(scope: Scope, secure: bool) -> CsrfReason | None:
    """Return why the request in `scope` fails the CSRF check, or None when it passes.

    Args:
        scope: The ASGI scope of the request.
        secure: Whether the portal's cookies are HTTPS-only, which names the CSRF cookie.
    """
    if scope["method"] in SAFE_METHODS or scope["path"] in EXEMPT_PATHS:
        return None
    cookie_header = _header(scope, b"cookie")
    if not cookie_header:
        return None
    origin = _header(scope, b"origin")
    if origin is None and _header(scope, b"sec-fetch-site") is None:
        return None

    # Hosts only: behind a TLS-terminating proxy the API may see http while the
    # browser names https, and a scheme change alone does not cross sites.
    if origin is not None and urlsplit(origin).netloc != (_header(scope, b"host") or ""):
        return CsrfReason.CROSS_ORIGIN
    if _header(scope, b"sec-fetch-site") == "cross-site":
        return CsrfReason.CROSS_ORIGIN

    expected = cookie_parser(cookie_header).get(csrf_cookie_name(secure))
    sent = _header(scope, CSRF_HEADER.lower().encode())
    if not expected or not sent:
        return CsrfReason.MISSING_TOKEN
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        return CsrfReason.TOKEN_MISMATCH
    return None


class CsrfMiddleware:
    """Reject cookie-carrying browser requests that fail the CSRF check with a 403 problem."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = check_request(scope, self.secure)
        if reason is None:
            await self.app(scope, receive, send)
            return

        CSRF_REJECTED.labels(reason.value).inc()
        log.warning(
            "CSRF check failed method=%s path=%s reason=%s",
            scope["method"],
            scope["path"],
            reason.value,
        )
        response = problem_response(
            Problem(
                403,
                "CSRF check failed",
                f"The {CSRF_HEADER} header is missing or does not match this browser's CSRF "
                "cookie, or the request came from another origin. Reload the portal page and "
                "try again; programs should call the API with an API key instead of cookies.",
                type_="csrf-failed",
                reason=reason.value,
            )
        )
        await response(scope, receive, send)
