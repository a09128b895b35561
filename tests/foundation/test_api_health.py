import pytest

from api.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_healthz_answers(api_client):
    response = await api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_with_dependencies_up(api_client):
    response = await api_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["dependencies"] == {"temporal": "up", "redis": "up"}


async def test_metrics_in_prometheus_format(api_client):
    await api_client.get("/readyz")
    response = await api_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'portal_dependency_up{dependency="redis"} 1.0' in response.text


async def test_openapi_document_served(api_client):
    response = await api_client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "devportal API"


async def test_unknown_path_is_problem(api_client):
    response = await api_client.get("/no-such-path")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["status"] == 404


async def test_readyz_names_redis_when_down(portal_settings):
    import httpx

    from api.app import create_app
    from tests.harness.servers import free_port

    settings = portal_settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    assert response.json()["dependency"] == "redis"


async def test_oversized_body_is_413(api_client, portal_settings):
    limit = portal_settings.api_max_body_bytes
    response = await api_client.post(
        "/v1/auth/sign-in",
        content=b"{" + b" " * limit + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["max_bytes"] == limit


async def test_streamed_oversized_body_is_413(api_client, portal_settings):
    limit = portal_settings.api_max_body_bytes

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    response = await api_client.post(
        "/v1/auth/sign-in", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
