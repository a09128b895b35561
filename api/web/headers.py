"""Security headers of the portal's pages and static files.

Every response under `/portal` gets a strict Content-Security-Policy (scripts
and styles only from this origin, no inline code, no third-party requests),
refuses framing, sends no referrer and is never cached, because pages show
per-user data and the reveal screen shows a secret.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES_PREFIX = "/portal"
STATIC_PREFIX = "/portal/static/"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        # Scripts may not write HTML strings into the DOM, which closes the
        # usual path from API data to script injection.
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
        "report-uri /portal/csp-reports",
    ]
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class PageHeadersMiddleware:
    """Add the pages' security and caching headers to every response under `/portal`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")
        ):
            await self.app(scope, receive, send)
            return
        # Static files may be revalidated; everything else must never be stored.
        cache_control = "no-cache" if path.startswith(STATIC_PREFIX) else "no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = cache_control
            await send(message)

        await self.app(scope, receive, send_with_headers)
