import pytest

from api.problems import PROBLEM_MEDIA_TYPE
from tests.harness.keys import seed_user, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_sign_in_sets_session_and_cookie(api_client, portal_settings):
    user = await seed_user(portal_settings)
    response = await api_client.post(
        "/v1/auth/sign-in",
        json={"email": user.email, "password": user.password, "totp_code": await user.totp_code()},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"].startswith("pst_")
    assert body["user"]["tenant_id"] == user.tenant_id
    assert body["user"]["mfa_at"] is not None
    cookie = response.headers["set-cookie"]
    assert "portal_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    session = await api_client.get(
        "/v1/auth/session", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert session.status_code == 200
    assert session.json()["email"] == user.email


async def test_sign_in_wrong_password_rejected(api_client, portal_settings):
    user = await seed_user(portal_settings)
    response = await api_client.post(
        "/v1/auth/sign-in",
        json={"email": user.email, "password": "wrong-password", "totp_code": "123456"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_session_required_without_token(portal_settings):
    import httpx

    from api.app import create_app

    app = create_app(portal_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            response = await http.get("/v1/auth/session")
    assert response.status_code == 401
    assert "POST /v1/auth/sign-in" in response.json()["detail"]


async def test_step_up_accepts_fresh_code(api_client, portal_settings):
    user = await seed_user(portal_settings)
    session = await sign_in(api_client, user)
    response = await api_client.post(
        "/v1/auth/mfa", json={"code": await user.totp_code()}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["mfa_valid_until"] is not None
