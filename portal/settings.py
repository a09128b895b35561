"""Settings of every portal process, read from `PORTAL_*` environment variables.

`docs/settings.md` lists every variable; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PORTAL_"
# Rate limits in the `limits` library's notation, such as "5 per 5 minutes".
RATE_LIMIT_PATTERN = r"^\d+ per (\d+ )?(second|minute|hour|day)s?$"


class SettingsError(Exception):
    """Raised when an environment variable contains a value the portal cannot use."""


class Settings(BaseSettings):
    """Configuration shared by the API, the workers, the CLI and the local servers."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    environment: str = Field(
        "local",
        pattern=r"^(local|test|staging|production)$",
        description="Deployment name: local, test, staging or production.",
    )
    state_dir: Path = Field(
        Path(".portal"), description="Folder for the local stack's data, logs and pid files."
    )
    host: str = Field("127.0.0.1", description="Address the local servers bind to.")
    log_level: str = Field(
        "INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Python logging level."
    )

    # API
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the portal API (uvicorn).")
    api_max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=104_857_600,
        description="Largest request body the API accepts, in bytes; larger ones get 413.",
    )

    # Temporal
    temporal_address: str = Field(
        "127.0.0.1:7233",
        pattern=r"^[^:\s]+:\d{1,5}$",
        description="Temporal frontend as HOST:PORT.",
    )
    temporal_namespace: str = Field("default", min_length=1, description="Temporal namespace.")
    temporal_ui_port: int = Field(8233, ge=1, le=65535, description="Port of the Temporal Web UI.")
    temporal_metrics_port: int = Field(
        7243, ge=1, le=65535, description="Port of the local Temporal server's /metrics."
    )
    temporal_tls: bool = Field(False, description="Connect to Temporal over TLS (Temporal Cloud).")
    temporal_api_key: str | None = Field(
        None, description="API key for Temporal Cloud; unset for a self-hosted cluster."
    )

    # Worker
    worker_metrics_port: int = Field(
        9464, ge=1, le=65535, description="Port of the worker's own Prometheus /metrics."
    )
    worker_sdk_metrics_port: int = Field(
        9465, ge=1, le=65535, description="Port of the Temporal SDK's Prometheus /metrics."
    )

    # Redis
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        pattern=r"^rediss?://",
        description="Redis URL the portal connects to, as redis://[USER:PASSWORD@]HOST:PORT/DB.",
    )
    redis_port: int = Field(
        6379, ge=1, le=65535, description="Port `portal up` starts the local Redis on."
    )

    # AWS (moto locally)
    aws_endpoint_url: str | None = Field(
        None,
        description="Endpoint of S3, CloudFront and KMS; unset means real AWS.",
    )
    aws_region: str = Field("us-east-1", min_length=1, description="AWS region.")
    moto_port: int = Field(
        4566, ge=1, le=65535, description="Port `portal up` starts the moto server on."
    )

    # CDN edge (Varnish locally)
    varnish_port: int = Field(6081, ge=1, le=65535, description="Port of the local Varnish edge.")
    varnish_admin_port: int = Field(
        6082, ge=1, le=65535, description="Port of the local Varnish management interface."
    )

    # Docs releases behind the CDN (portal/docs_site, workflows/docs_*.py)
    docs_bucket: str = Field(
        "devportal-docs",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="S3 bucket of the docs origin: releases under `releases/<id>/` and the "
        "`current.json` pointer.",
    )
    docs_spec_dir: Path = Field(
        Path("../shared/specs"),
        description="Folder of the OpenAPI documents (`.json`, `.yaml`, `.yml`) that a release "
        "publishes; API and CLI requests name files in it.",
    )
    docs_site: str = Field(
        "developer-docs",
        pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
        description="Name of the docs site in metric labels and alert messages.",
    )
    docs_edge_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL readers fetch the docs from through the CDN; unset means the "
        "local Varnish edge at http://<host>:<varnish port>.",
    )
    docs_cdn_providers: str = Field(
        "varnish,cloudfront",
        pattern=r"^(varnish|cloudfront)(,(varnish|cloudfront))?$",
        description="CDNs a release purges, comma-separated: `varnish` (surrogate-key purge) "
        "and/or `cloudfront` (CreateInvalidation).",
    )
    docs_cloudfront_distribution_id: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{6,32}$",
        description="CloudFront distribution in front of the docs bucket; unset means the one "
        "`portal docs bootstrap` creates on the local AWS endpoint (moto).",
    )
    docs_html_max_age_seconds: int = Field(
        300,
        ge=0,
        le=86400,
        description="Cache-Control max-age of HTML pages, the manifest and the release pointer.",
    )
    docs_asset_max_age_seconds: int = Field(
        31536000,
        ge=3600,
        le=31536000,
        description="Cache-Control max-age of content-hashed assets (immutable).",
    )
    docs_upload_batch_size: int = Field(
        4, ge=1, le=500, description="Files each upload activity puts to the S3 origin."
    )
    docs_upload_delay_seconds: float = Field(
        0.0,
        ge=0,
        le=60,
        description="Pause before each file upload, in seconds; only tests set it, to kill a "
        "worker mid-upload.",
    )
    docs_verify_sample_pages: int = Field(
        4, ge=1, le=100, description="Pages fetched through the edge to compare with the origin."
    )
    docs_purge_rounds: int = Field(
        4,
        ge=1,
        le=20,
        description="Purge-and-verify rounds a release tries before it reports the edge stale.",
    )
    docs_purge_backoff_seconds: float = Field(
        2.0, gt=0, le=600, description="Wait before the second purge round; doubles each round."
    )
    docs_stale_recheck_seconds: int = Field(
        60,
        ge=1,
        le=3600,
        description="Seconds between edge checks of a release whose edge is stale.",
    )
    docs_freshness_interval_seconds: int = Field(
        60,
        ge=10,
        le=3600,
        description="Interval of the schedule that compares the edge's manifest hash with "
        "the origin's.",
    )
    docs_renderer: Path | None = Field(
        None,
        description="Redocly CLI executable that renders the reference pages; unset means "
        "node/node_modules/.bin/redocly in the repository.",
    )
    docs_build_dir: Path | None = Field(
        None,
        description="Folder of built sites before upload; unset means <state dir>/docs/builds.",
    )

    # Local stand-ins for other teams' services
    auth_service_address: str = Field(
        "127.0.0.1:50051",
        pattern=r"^[^:\s]+:\d{1,5}$",
        description="auth-service gRPC endpoint as HOST:PORT.",
    )
    dispatch_address: str = Field(
        "127.0.0.1:50052",
        pattern=r"^[^:\s]+:\d{1,5}$",
        description="dispatch gRPC endpoint as HOST:PORT.",
    )

    # Web pages (api/web)
    web_temporal_ui_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description=(
            "Base URL of the Temporal UI that the release status page links to, without a "
            "trailing slash; unset means http://TEMPORAL_HOST:TEMPORAL_UI_PORT."
        ),
    )
    web_poll_seconds: float = Field(
        2.0,
        ge=0.5,
        le=60.0,
        description="Seconds between the pages' refreshes of key, session and release states.",
    )

    # API keys and portal sign-in (auth-service)
    auth_service_db: Path | None = Field(
        None,
        description="SQLite file of the local auth-service; unset means "
        "<state dir>/auth-service/auth.db.",
    )
    auth_service_pepper: SecretStr | None = Field(
        None,
        description="HMAC pepper of the local auth-service's secret hashes; unset uses a fixed "
        "development pepper, which the auth-service rejects in staging and production.",
    )
    auth_service_timeout_seconds: float = Field(
        1.0, gt=0, le=30, description="Deadline of each auth-service call, retries included."
    )
    auth_service_breaker_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Consecutive UNAVAILABLE or DEADLINE_EXCEEDED auth-service calls that open "
        "its circuit breaker.",
    )
    auth_service_breaker_reset_seconds: float = Field(
        15.0, gt=0, le=600, description="Seconds the auth-service breaker stays open."
    )
    mfa_max_age_seconds: int = Field(
        300,
        ge=10,
        le=3600,
        description="Maximum age in seconds of the TOTP check that creating a live key or "
        "revealing a secret requires.",
    )
    session_ttl_seconds: int = Field(
        28800, ge=300, le=604800, description="Lifetime of a portal sign-in session in seconds."
    )
    session_cookie_secure: bool | None = Field(
        None,
        description="Mark the session cookie Secure (HTTPS only); unset means Secure except in "
        "the local and test environments.",
    )
    sign_in_rate_limit: str = Field(
        "10 per 15 minutes",
        pattern=RATE_LIMIT_PATTERN,
        description="Sign-in attempts allowed per email, as `N per [M] second|minute|hour`.",
    )
    mfa_rate_limit: str = Field(
        "5 per 5 minutes",
        pattern=RATE_LIMIT_PATTERN,
        description="TOTP attempts allowed per portal user, as `N per [M] second|minute|hour`.",
    )
    key_reveal_ttl_seconds: int = Field(
        600,
        ge=60,
        le=3600,
        description="Seconds the encrypted one-time copy of a new secret waits to be revealed.",
    )
    keys_kms_key_alias: str = Field(
        "alias/devportal-api-keys",
        pattern=r"^alias/[A-Za-z0-9/_-]+$",
        description="KMS key alias whose data keys encrypt the one-time copies of secrets.",
    )
    revocation_initial_backoff_seconds: float = Field(
        1.0, gt=0, le=60, description="First retry delay of a key revocation, in seconds."
    )
    revocation_max_backoff_seconds: float = Field(
        300.0,
        ge=1,
        le=3600,
        description="Cap of the exponential retry delay of a key revocation, in seconds.",
    )
    revocation_metrics_interval_seconds: float = Field(
        15.0,
        ge=1,
        le=600,
        description="Seconds between refreshes of the pending-revocation gauges by the worker.",
    )
    audit_stream_max_events: int = Field(
        10000, ge=100, le=1000000, description="Audit events kept per tenant in Redis."
    )

    # Verify (one-time codes over WhatsApp, SMS and Voice)
    redis_admin_url: str | None = Field(
        None,
        pattern=r"^rediss?://",
        description="Redis URL of an admin ACL user that may read `ACL LOG` and `CLIENT LIST`; "
        "unset disables the Redis ACL-log job.",
    )
    dispatch_admin_port: int = Field(
        50062,
        ge=1,
        le=65535,
        description="Port of the local dispatch server's HTTP control plane (faults, inboxes).",
    )
    verify_session_ttl_seconds: int = Field(
        600, ge=60, le=3600, description="Lifetime of a Verify session in seconds."
    )
    verify_max_attempts: int = Field(
        5, ge=1, le=20, description="Code checks allowed per Verify session, across all channels."
    )
    verify_kms_key_alias: str = Field(
        "alias/devportal-verify",
        pattern=r"^alias/[A-Za-z0-9/_-]+$",
        description="KMS key alias whose data keys are the code pepper and the phone-number key.",
    )
    verify_pepper_rotation_seconds: int = Field(
        86400,
        ge=60,
        le=30 * 86400,
        description="Interval of the schedule that rotates the code pepper, in seconds.",
    )
    verify_cap_tenant_sessions: str = Field(
        "300 per minute",
        pattern=RATE_LIMIT_PATTERN,
        description="Verify sessions a tenant may start, as `N per [M] UNIT` with UNIT one of "
        "second, minute, hour or day.",
    )
    verify_cap_tenant_dispatches: str = Field(
        "600 per minute",
        pattern=RATE_LIMIT_PATTERN,
        description="Code messages a tenant's sessions may send, across all channels.",
    )
    verify_cap_recipient_sessions: str = Field(
        "5 per 10 minutes",
        pattern=RATE_LIMIT_PATTERN,
        description="Verify sessions per phone number (E.164), across all tenants.",
    )
    verify_cap_recipient_dispatches: str = Field(
        "10 per hour",
        pattern=RATE_LIMIT_PATTERN,
        description="Code messages per phone number (E.164), across all channels and tenants.",
    )
    verify_cap_global_dispatches: str = Field(
        "50 per second",
        pattern=RATE_LIMIT_PATTERN,
        description="Budget of all portal messages to dispatch, so the portal cannot flood the "
        "data plane.",
    )
    verify_breaker_window_seconds: int = Field(
        60, ge=5, le=600, description="Window over which a channel breaker counts failures."
    )
    verify_breaker_min_calls: int = Field(
        10,
        ge=1,
        le=1000,
        description="Sends a channel needs within the window before its breaker may open.",
    )
    verify_breaker_failure_ratio: float = Field(
        0.5, gt=0, le=1, description="Share of failed sends in the window that opens a breaker."
    )
    verify_breaker_open_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Seconds a channel breaker stays open before one probe send may try again.",
    )
    verify_delivery_poll_seconds: float = Field(
        1.0,
        ge=0.1,
        le=2,
        description="Seconds between reads of a sent code's delivery status; at most 2 so that "
        "a wait plus a read that uses its whole 5 s deadline stays under the 10 s heartbeat "
        "timeout.",
    )
    verify_acl_log_interval_seconds: float = Field(
        15.0, ge=1, le=600, description="Seconds between reads of the Redis ACL log."
    )

    # Payload encryption, codec server and on-call tools (portal/codec.py, portal/ops)
    payload_kms_key_alias: str = Field(
        "alias/portal-temporal-payloads",
        pattern=r"^alias/[A-Za-z0-9/_-]+$",
        description="KMS key alias whose data keys encrypt Temporal payloads; created on first "
        "use when PORTAL_AWS_ENDPOINT_URL is set (moto), required to exist on real AWS.",
    )
    payload_data_key_max_age_seconds: int = Field(
        86400,
        ge=60,
        le=2592000,
        description="Seconds a process encrypts with one data key before it asks KMS for a "
        "new one.",
    )
    payload_data_key_max_uses: int = Field(
        1000000,
        ge=1,
        le=2**31,
        description="Payloads a process encrypts with one data key before it asks KMS for a new "
        "one; AES-GCM with random 96-bit nonces must stay far below 2^32 uses per key.",
    )
    payload_kms_timeout_seconds: float = Field(
        3.0, gt=0, le=30, description="Connect and read timeout of each KMS call, in seconds."
    )
    payload_kms_breaker_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Consecutive KMS calls failing on throttling or connection errors that open "
        "the payload codec's circuit breaker.",
    )
    payload_kms_breaker_reset_seconds: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Seconds the payload codec's KMS breaker stays open before it lets a trial "
        "call through.",
    )
    codec_port: int = Field(
        8081, ge=1, le=65535, description="Port of the codec server (`portal codec-server`)."
    )
    codec_auth_token: SecretStr | None = Field(
        None,
        description="Shared secret that callers of the codec server send as `Authorization: "
        "Bearer TOKEN`, at least 24 characters; `portal up` generates one in "
        "<state dir>/codec-token when unset, and the codec server does not start without one.",
    )
    codec_cors_origins: str | None = Field(
        None,
        pattern=r"^https?://[^/\s,]+(,\s*https?://[^/\s,]+)*$",
        description="Comma-separated browser origins allowed to call the codec server (the "
        "Temporal UI); unset means http://TEMPORAL_HOST:TEMPORAL_UI_PORT and its localhost form.",
    )
    codec_public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description="URL at which browsers reach the codec server, without a trailing slash; "
        "unset means http://HOST:CODEC_PORT.",
    )
    ops_stuck_after_seconds: int = Field(
        1800,
        ge=60,
        le=604800,
        description="Seconds a running workflow must have run before `portal ops failed` checks "
        "it for retrying activities and failing workflow tasks.",
    )
    ops_stuck_activity_attempts: int = Field(
        5,
        ge=2,
        le=1000,
        description="Attempts of a pending activity from which `portal ops failed` lists its "
        "workflow as stuck.",
    )
    ops_max_runtime_seconds: int = Field(
        259200,
        ge=300,
        le=31536000,
        description="Seconds after which `portal ops failed` lists a workflow that is still "
        "running as stuck.",
    )

    # SDK releases (portal/sdk, workflows/sdk_release.py, workflows/version_skew.py)
    sdk_source_dir: Path | None = Field(
        None,
        description="Folder of the SDK sources a release builds (python/, typescript/, go/, "
        "java/); unset means sdks/ in the repository.",
    )
    sdk_staging_bucket: str = Field(
        "devportal-sdk-staging",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="S3 bucket where a release stages the artifacts it built and records its "
        "outcome; created on first use when PORTAL_AWS_ENDPOINT_URL is set (moto).",
    )
    sdk_pypi_port: int = Field(
        8141, ge=1, le=65535, description="Port `portal up` starts the local PyPI index on."
    )
    sdk_pypi_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+/$",
        description="PyPI-compatible index releases upload to with twine, ending in `/`; "
        "unset means the local pypiserver at http://HOST:SDK_PYPI_PORT/.",
    )
    sdk_pypi_username: str = Field(
        "devrel", min_length=1, description="User name for uploads to the PyPI index."
    )
    sdk_pypi_password: SecretStr = Field(
        SecretStr("local-pypi-password"),
        description="Password or API token for uploads to the PyPI index; the default only "
        "suits the local index, which `portal up` creates with it.",
    )
    sdk_npm_port: int = Field(
        4873, ge=1, le=65535, description="Port `portal up` starts the local npm registry on."
    )
    sdk_npm_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+/$",
        description="npm registry releases publish to, ending in `/`; unset means the local "
        "Verdaccio at http://HOST:SDK_NPM_PORT/.",
    )
    sdk_npm_username: str = Field(
        "devrel", min_length=1, description="User name for publishing to the npm registry."
    )
    sdk_npm_password: SecretStr = Field(
        SecretStr("local-npm-password"),
        description="Password for publishing to the npm registry; the default only suits the "
        "local Verdaccio, which `portal up` creates with it.",
    )
    sdk_npm_token: SecretStr | None = Field(
        None,
        description="Auth token for the npm registry; when set, it replaces the user name and "
        "password.",
    )
    sdk_go_repository_url: str | None = Field(
        None,
        pattern=r"^(https://|ssh://|file://)\S+$",
        description="Git URL of the Go module's repository that releases push tags to; unset "
        "means a bare repository under <state dir>/registries/go.",
    )
    sdk_maven_bucket: str = Field(
        "devportal-sdk-maven",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="S3 bucket holding the Maven repository layout of the Java SDK.",
    )
    sdk_maven_prefix: str = Field(
        "releases",
        pattern=r"^[a-z0-9][a-z0-9/_-]*[a-z0-9]$",
        description="Key prefix of the Maven repository in SDK_MAVEN_BUCKET, without slashes "
        "at either end.",
    )
    sdk_tracker_port: int = Field(
        8142,
        ge=1,
        le=65535,
        description="Port `portal up` starts the local issue tracker (GitHub Issues REST "
        "subset) on.",
    )
    sdk_tracker_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+[^/\s]$",
        description="Base URL of the GitHub REST API that partial-release issues are filed "
        "in, without a trailing slash; unset means the local tracker at "
        "http://HOST:SDK_TRACKER_PORT.",
    )
    sdk_tracker_repository: str = Field(
        "example-sms/sdk-releases",
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="Repository, as OWNER/NAME, that partial-release issues are filed in.",
    )
    sdk_tracker_token: SecretStr = Field(
        SecretStr("local-tracker-token"),
        description="Token sent to the tracker as `Authorization: Bearer TOKEN`; the default "
        "only suits the local tracker, which `portal up` starts with it.",
    )
    sdk_publish_max_attempts: int = Field(
        5,
        ge=1,
        le=50,
        description="Attempts of each language's publish before the release turns partial.",
    )
    sdk_publish_initial_interval_seconds: float = Field(
        2.0, gt=0, le=600, description="Wait before the second publish attempt; doubles each time."
    )
    sdk_publish_max_interval_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between two publish attempts, in seconds."
    )
    sdk_heartbeat_timeout_seconds: float = Field(
        30.0,
        ge=1,
        le=600,
        description="Seconds without a heartbeat after which Temporal retries a build or "
        "publish on another worker.",
    )
    sdk_skew_check_interval_seconds: int = Field(
        300,
        ge=10,
        le=86400,
        description="Interval of the schedule that reads the latest version from every registry.",
    )

    @property
    def temporal_host(self) -> str:
        """Host part of `temporal_address`."""
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        """Port part of `temporal_address`."""
        return int(self.temporal_address.rsplit(":", 1)[1])

    @property
    def docs_spec_path(self) -> Path:
        """`docs_spec_dir` as an absolute path, a relative one taken from the repository root."""
        if self.docs_spec_dir.is_absolute():
            return self.docs_spec_dir
        return (Path(__file__).resolve().parents[1] / self.docs_spec_dir).resolve()

    @property
    def logs_dir(self) -> Path:
        """Folder of the local stack's log files."""
        return self.state_dir / "logs"


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "?"
    variable = f"{ENV_PREFIX}{field.upper()}"
    expected = Settings.model_fields.get(field)
    hint = f" Expected: {expected.description}" if expected and expected.description else ""
    return f"{variable}={error.get('input')!r} is invalid: {error['msg']}.{hint}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with `overrides` taking precedence.

    Raises:
        SettingsError: naming each invalid variable and the form it expects.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise SettingsError("\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return load_settings()


def settings_reference() -> str:
    """Render every setting as the Markdown reference kept in `docs/settings.md`."""
    lines = [
        "# Settings",
        "",
        "Every portal process reads these environment variables. An invalid value",
        "stops start-up with a message naming the variable and the form it expects.",
        "Regenerate this file with `portal settings --markdown > docs/settings.md`.",
        "",
        "| Variable | Default | Meaning |",
        "| --- | --- | --- |",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "unset" if default is None else f"`{default}`"
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {shown} | {info.description or ''} |")
    return "\n".join(lines) + "\n"
