"""`portal codec-server` over HTTP: authorisation, CORS, the payload JSON shape, errors."""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import httpx
import pytest

from portal.codec_server import session_value
from portal.settings import Settings
from tests.harness.servers import ManagedProcess
from tests.ops.conftest import CODEC_TOKEN

AUTH = {"Authorization": f"Bearer {CODEC_TOKEN}", "X-Namespace": "default"}
PHONE = "+14155550123"


def payloads_body(text: str) -> dict:
    return {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(f'"{text}"'.encode()).decode(),
            }
        ]
    }


@pytest.fixture
def codec(codec_server: ManagedProcess) -> httpx.Client:
    with httpx.Client(base_url=codec_server.url, timeout=10) as client:  # type: ignore[attr-defined]
        yield client


def test_encode_then_decode_round_trip(codec: httpx.Client):
    encoded = codec.post("/encode", json=payloads_body(PHONE), headers=AUTH)
    assert encoded.status_code == 200, encoded.text
    [payload] = encoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
    assert PHONE not in encoded.text

    decoded = codec.post("/decode", json=encoded.json(), headers=AUTH)

    assert decoded.status_code == 200, decoded.text
    [plain] = decoded.json()["payloads"]
    assert base64.b64decode(plain["data"]).decode() == f'"{PHONE}"'


def test_missing_credentials_get_401(codec: httpx.Client):
    response = codec.post("/decode", json=payloads_body("x"), headers={"X-Namespace": "default"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_wrong_token_gets_403(codec: httpx.Client):
    response = codec.post(
        "/decode", json=payloads_body("x"), headers={"Authorization": "Bearer wrong"}
    )

    assert response.status_code == 403
    assert response.json()["status"] == 403


def test_wrong_scheme_gets_403(codec: httpx.Client):
    response = codec.post(
        "/decode", json=payloads_body("x"), headers={"Authorization": f"Basic {CODEC_TOKEN}"}
    )

    assert response.status_code == 403


def test_wrong_content_type_gets_415(codec: httpx.Client):
    headers = {**AUTH, "Content-Type": "text/plain"}

    response = codec.post("/decode", content=b"payloads", headers=headers)

    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_malformed_body_names_payloads(codec: httpx.Client):
    response = codec.post("/decode", json={"payloads": "nope"}, headers=AUTH)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payloads"


def test_tampered_payload_gets_422(codec: httpx.Client):
    encoded = codec.post("/encode", json=payloads_body("x"), headers=AUTH).json()
    data = bytearray(base64.b64decode(encoded["payloads"][0]["data"]))
    data[-1] ^= 1
    encoded["payloads"][0]["data"] = base64.b64encode(bytes(data)).decode()

    response = codec.post("/decode", json=encoded, headers=AUTH)

    assert response.status_code == 422
    assert "altered" in response.json()["detail"]


def test_cors_allows_temporal_ui_origin(codec: httpx.Client, ops_settings: Settings):
    origin = f"http://127.0.0.1:{ops_settings.temporal_ui_port}"

    response = codec.options(
        "/decode",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-namespace" in allowed
    assert "authorization" in allowed


def test_cors_rejects_other_origins(codec: httpx.Client):
    response = codec.options(
        "/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    post = codec.post(
        "/decode", json=payloads_body("x"), headers={**AUTH, "Origin": "http://evil.example"}
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in post.headers


def test_login_cookie_authorises_browser(codec: httpx.Client):
    rejected = codec.post("/login", data={"token": "wrong"})
    assert rejected.status_code == 403
    assert "portal_codec_session" not in rejected.cookies

    signed_in = codec.post("/login", data={"token": CODEC_TOKEN})
    assert signed_in.status_code == 200
    cookie = signed_in.cookies["portal_codec_session"]
    assert CODEC_TOKEN not in cookie
    assert "httponly" in signed_in.headers["set-cookie"].lower()

    response = codec.post(
        "/encode",
        json=payloads_body("x"),
        headers={"X-Namespace": "default", "Cookie": f"portal_codec_session={cookie}"},
    )
    assert response.status_code == 200


def test_expired_cookie_gets_403(codec: httpx.Client):
    expired = session_value(CODEC_TOKEN, int(time.time()) - 1)

    response = codec.post(
        "/decode", json=payloads_body("x"), headers={"Cookie": f"portal_codec_session={expired}"}
    )

    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_cookie_for_other_token_gets_403(codec: httpx.Client):
    other = session_value("another-token-0123456789abcdef", int(time.time()) + 600)

    response = codec.post(
        "/decode", json=payloads_body("x"), headers={"Cookie": f"portal_codec_session={other}"}
    )

    assert response.status_code == 403


def test_forged_cookie_gets_403(codec: httpx.Client):
    forged = {"Cookie": f"portal_codec_session={'0' * 64}"}

    response = codec.post("/decode", json=payloads_body("x"), headers=forged)

    assert response.status_code == 403


def test_metrics_count_rejections(codec: httpx.Client):
    codec.post("/decode", json=payloads_body("x"))

    metrics = codec.get("/metrics").text

    assert 'portal_ops_codec_server_requests_total{code="401",endpoint="decode"}' in metrics


def test_start_without_token_fails(ops_env: dict[str, str], tmp_path):
    env = {key: value for key, value in ops_env.items() if key != "PORTAL_CODEC_AUTH_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "portal", "codec-server"],
        env={"PATH": "/usr/bin:/bin", **env, "PORTAL_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "PORTAL_CODEC_AUTH_TOKEN" in result.stderr
