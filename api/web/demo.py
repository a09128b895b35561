"""`portal demo` step of the web pages: where each page is, and proof that it renders safely."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from api.web.csrf import CSRF_HEADER
from api.web.headers import CONTENT_SECURITY_POLICY

if TYPE_CHECKING:
    from portal.demo import DemoContext

PAGES = [
    ("Sign-in", "/portal/sign-in"),
    ("API keys", "/portal/keys"),
    ("Verify console", "/portal/verify"),
    ("Releases (DevRel)", "/portal/releases"),
]
ASSET_PATTERN = re.compile(r'(?:src|href)="(/portal/static/[^"]+)"')


class PageCheckError(AssertionError):
    """A page responded, but without the headers or assets the portal must serve it with."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PageCheckError(message)


async def web_pages_demo(ctx: DemoContext) -> None:
    """Print the pages' URLs and check each renders with its security headers and assets."""
    base = str(ctx.http.base_url).rstrip("/")
    for title, path in PAGES:
        response = await ctx.http.get(path)
        _require(response.status_code == 200, f"GET {path} answered {response.status_code}")
        _require(
            response.headers.get("content-type", "").startswith("text/html"),
            f"GET {path} is not HTML",
        )
        _require(
            response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY,
            f"GET {path} lacks the portal's Content-Security-Policy",
        )
        _require(
            response.headers.get("cache-control") == "no-store",
            f"GET {path} may be cached: Cache-Control is {response.headers.get('cache-control')}",
        )
        for asset in sorted(set(ASSET_PATTERN.findall(response.text))):
            loaded = await ctx.http.get(asset)
            _require(
                loaded.status_code == 200,
                f"{path} needs {asset}, which answered {loaded.status_code}",
            )
        ctx.echo(f"{title:20} {base}{path}")

    # A state-changing call with the portal's cookies from another site is refused.
    forged = await ctx.http.post(
        "/v1/auth/sign-out",
        headers={"Origin": "https://attacker.example", "Cookie": "portal_session=forged"},
    )
    _require(forged.status_code == 403, f"a cross-site sign-out answered {forged.status_code}")
    ctx.echo(
        f"a cross-site POST with the session cookie gets {forged.status_code} "
        f"({forged.json()['title']}); the pages send the {CSRF_HEADER} header"
    )
    ctx.echo("sign in with a portal user from `portal users seed` to use the pages")
