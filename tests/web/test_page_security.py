"""CSRF check, page headers, sign-in redirects and CSP reports, over HTTP on the real app."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client import REGISTRY

from api.problems import PROBLEM_MEDIA_TYPE
from api.web.csrf import CSRF_COOKIE, CSRF_COOKIE_HTTPS, CSRF_HEADER

pytestmark = pytest.mark.asyncio(loop_scope="session")

ORIGIN = "http://portal.test"
TOKEN = "t" * 43


def rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value("portal_web_csrf_rejected_total", {"reason": reason})
    return value or 0.0


def csp_violations(directive: str) -> float:
    value = REGISTRY.get_sample_value("portal_web_csp_violations_total", {"directive": directive})
    return value or 0.0


async def test_cross_origin_post_rejected(api_client):
    before = rejected("cross_origin")
    response = await api_client.post(
        "/v1/auth/sign-out",
        headers={
            "Origin": "https://attacker.example",
            "Cookie": f"portal_session=x; {CSRF_COOKIE}={TOKEN}",
            CSRF_HEADER: TOKEN,
        },
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["reason"] == "cross_origin"
    assert CSRF_HEADER in response.json()["detail"]
    assert rejected("cross_origin") == before + 1


async def test_cross_site_fetch_rejected(api_client):
    response = await api_client.delete(
        "/v1/keys/key_00000000000000000000",
        headers={"Sec-Fetch-Site": "cross-site", "Cookie": f"{CSRF_COOKIE}={TOKEN}"},
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "cross_origin"


async def test_missing_token_rejected(api_client):
    before = rejected("missing_token")
    response = await api_client.post(
        "/v1/keys",
        json={"name": "x", "environment": "test", "scopes": ["verify:send"]},
        headers={"Origin": ORIGIN, "Cookie": "portal_session=x"},
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "missing_token"
    assert rejected("missing_token") == before + 1


async def test_origin_scheme_from_proxy_passes(api_client):
    response = await api_client.post(
        "/v1/auth/sign-out",
        headers={
            "Origin": "https://portal.test",
            "Cookie": f"portal_session=x; {CSRF_COOKIE}={TOKEN}",
            CSRF_HEADER: TOKEN,
        },
    )
    assert response.status_code == 401


async def test_token_mismatch_rejected(api_client):
    response = await api_client.post(
        "/v1/auth/sign-out",
        headers={
            "Sec-Fetch-Site": "same-origin",
            "Cookie": f"portal_session=x; {CSRF_COOKIE}={TOKEN}",
            CSRF_HEADER: "u" * 43,
        },
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "token_mismatch"


async def test_matching_token_passes(api_client):
    response = await api_client.post(
        "/v1/auth/sign-out",
        headers={
            "Origin": ORIGIN,
            "Cookie": f"portal_session=x; {CSRF_COOKIE}={TOKEN}",
            CSRF_HEADER: TOKEN,
        },
    )
    # Past the CSRF check, the auth dependency rejects the forged session with 401.
    assert response.status_code == 401
    assert response.json()["type"].endswith("/sign-in-required")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "https://attacker.example"}, id="no-cookies"),
        pytest.param({"Cookie": "portal_session=x"}, id="not-a-browser"),
    ],
)
async def test_non_browser_calls_pass(api_client, headers):
    response = await api_client.post("/v1/auth/sign-out", headers=headers)
    assert response.status_code == 401


async def test_safe_methods_pass(api_client):
    response = await api_client.get(
        "/v1/auth/session",
        headers={"Origin": "https://attacker.example", "Cookie": "portal_session=x"},
    )
    assert response.status_code == 401


async def test_page_issues_csrf_cookie(api_client):
    first = await api_client.get("/portal/sign-in")
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie
    token = api_client.cookies[CSRF_COOKIE]
    assert f'<meta name="csrf-token" content="{token}">' in first.text

    second = await api_client.get("/portal/keys")
    assert "set-cookie" not in second.headers
    assert f'<meta name="csrf-token" content="{token}">' in second.text


async def test_https_uses_host_prefixed_cookie(portal_settings):
    from api.app import create_app

    app = create_app(portal_settings.model_copy(update={"session_cookie_secure": True}))
    transport = httpx.ASGITransport(app=app)
    base_url = "https://portal.test"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        page = await client.get("/portal/sign-in")
        cookie = page.headers["set-cookie"]
        token = cookie.split(";", 1)[0].split("=", 1)[1]
        sent = {"Origin": base_url, CSRF_HEADER: token}
        plain = await client.post(
            "/v1/auth/sign-out",
            headers={**sent, "Cookie": f"portal_session=x; {CSRF_COOKIE}={token}"},
        )
        prefixed = await client.post(
            "/v1/auth/sign-out",
            headers={**sent, "Cookie": f"portal_session=x; {CSRF_COOKIE_HTTPS}={token}"},
        )

    assert cookie.startswith(f"{CSRF_COOKIE_HTTPS}=")
    assert "Secure" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    # Where cookies are HTTPS-only, a token in the unprefixed cookie is not trusted.
    assert plain.status_code == 403
    assert prefixed.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/portal/sign-in",
        "/portal/keys",
        "/portal/verify",
        "/portal/releases",
        "/portal/static/js/portal.js",
    ],
)
async def test_pages_security_headers(api_client, path):
    response = await api_client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    expected_cache = "no-cache" if "/static/" in path else "no-store"
    assert response.headers["cache-control"] == expected_cache


async def test_pages_have_no_inline_script(api_client):
    for path in ("/portal/sign-in", "/portal/keys", "/portal/verify", "/portal/releases"):
        html = (await api_client.get(path)).text
        assert "<script>" not in html
        assert " on" + "click=" not in html
        assert '<script type="module" src="/portal/static/js/' in html


async def test_api_responses_without_page_headers(api_client):
    response = await api_client.get("/healthz")
    assert "content-security-policy" not in response.headers


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/portal/verify", "/portal/verify"),
        ("//attacker.example/portal/", "/portal/keys"),
        ("https://attacker.example/", "/portal/keys"),
        ("/portal//attacker.example", "/portal/keys"),
        ("/v1/keys", "/portal/keys"),
        ("/portal/keys\\evil", "/portal/keys"),
    ],
)
async def test_sign_in_next_path(api_client, candidate, expected):
    response = await api_client.get("/portal/sign-in", params={"next": candidate})
    assert f'data-next="{expected}"' in response.text


async def test_reveal_page_rejects_bad_key_id(api_client):
    response = await api_client.get("/portal/keys/not-a-key/reveal")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["errors"][0]["field"] == "key_id"


async def test_portal_root_redirects(api_client):
    response = await api_client.get("/portal")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/keys"


async def test_csp_report_counted(api_client):
    before = csp_violations("script-src-elem")
    report = {
        "csp-report": {
            "document-uri": "http://portal.test/portal/keys?secret=x",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
        }
    }
    response = await api_client.post(
        "/portal/csp-reports",
        content=json.dumps(report),
        headers={"Content-Type": "application/csp-report", "Cookie": "portal_session=x"},
    )
    assert response.status_code == 204
    assert csp_violations("script-src-elem") == before + 1


async def test_csp_report_unknown_directive(api_client):
    before = csp_violations("other")
    response = await api_client.post(
        "/portal/csp-reports", json={"csp-report": {"effective-directive": "made-up-src"}}
    )
    assert response.status_code == 204
    assert csp_violations("other") == before + 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"not json", 400, id="not-json"),
        pytest.param(b'{"other": 1}', 400, id="no-report"),
        pytest.param(b"x" * 20_000, 413, id="too-large"),
    ],
)
async def test_csp_report_rejected(api_client, body, status):
    response = await api_client.post("/portal/csp-reports", content=body)
    assert response.status_code == status
