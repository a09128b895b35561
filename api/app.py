"""FastAPI application factory and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from api.limits import BodySizeLimitMiddleware
from api.problems import install_problem_handlers
from api.routers import audit, auth, docs, health, keys, sdk, snippets, verify
from api.security import security_clients
from api.web import install_web
from portal import temporal
from portal.redis import create_redis
from portal.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the portal API.

    Args:
        settings: Settings to use; read from the environment when None.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Lazy, so the API starts and reports itself unready while Temporal is down.
            app.state.temporal = await temporal.connect(settings, lazy=True)

            app.state.redis = create_redis(settings)
            stack.push_async_callback(app.state.redis.aclose)

            await stack.enter_async_context(security_clients(app, settings))
            await stack.enter_async_context(verify.verify_clients(app, settings))

            log.info(
                "API started port=%d temporal=%s", settings.api_port, settings.temporal_address
            )
            yield
            log.info("API stopping")

    app = FastAPI(
        title="devportal API",
        version="1.0.0",
        summary="API keys, Verify, docs and SDK releases of the SMS developer portal.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.snippet_specs_dir = settings.docs_spec_path
    # Extra readiness probes by name; each returns an awaitable that raises when down.
    app.state.readiness_probes = {}
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.include_router(health.router)
    app.include_router(snippets.router)
    install_web(app)
    app.include_router(auth.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    app.include_router(verify.router)
    app.include_router(docs.router)
    app.include_router(sdk.router)
    return app
