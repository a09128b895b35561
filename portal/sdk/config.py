"""Addresses of the registries, the staging bucket and the tracker, resolved from settings.

Unset URLs mean the local servers `portal up` starts, so the same code
publishes to pypiserver and Verdaccio locally and to the real registries in
production.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from portal.settings import Settings

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = REPO_ROOT / "node" / "node_modules" / ".bin"

PYTHON_PACKAGE = "example-sms-verify"
NPM_PACKAGE = "@example-sms/verify"
MAVEN_GROUP = "com.examplesms"
MAVEN_ARTIFACT = "verify-sdk"
# The module path sdks/go/go.mod declares, for configurations without the sources.
DEFAULT_GO_MODULE = "github.com/example-sms/verify-go"


@dataclass(frozen=True)
class SdkConfig:
    """Resolved addresses and credentials of everything a release talks to.

    Credentials stay in this object and in the environment of the tools that
    need them; they never enter workflow inputs or results.
    """

    source_dir: Path
    work_dir: Path
    aws_endpoint_url: str | None
    aws_region: str
    staging_bucket: str
    pypi_url: str
    pypi_username: str
    pypi_password: str
    npm_url: str
    npm_username: str
    npm_password: str
    npm_token: str | None
    go_repository_url: str
    go_module: str
    maven_bucket: str
    maven_prefix: str
    tracker_url: str
    tracker_repository: str
    tracker_token: str

    @property
    def local_aws(self) -> bool:
        """True when S3 is a local endpoint (moto), where missing buckets may be created."""
        return self.aws_endpoint_url is not None

    @property
    def maven_repository_url(self) -> str:
        """HTTP address of the Maven repository, as a Maven `<repository><url>`."""
        base = self.aws_endpoint_url or f"https://s3.{self.aws_region}.amazonaws.com"
        return f"{base.rstrip('/')}/{self.maven_bucket}/{self.maven_prefix}"


def local_go_repository(settings: Settings) -> Path:
    """Path of the local bare git repository that replaces the Go module's repository."""
    return settings.state_dir.resolve() / "registries" / "go" / "verify-go.git"


def read_go_module(source_dir: Path) -> str:
    """Return the module path declared in the Go SDK's go.mod.

    Without a go.mod, as when PORTAL_SDK_SOURCE_DIR points elsewhere, it
    returns the path the repository's go.mod declares, so registries can still
    be read. The Go build then fails with a message naming the setting.
    """
    go_mod = source_dir / "go" / "go.mod"
    if not go_mod.exists():
        log.warning("no go.mod at %s; assuming module %s", go_mod, DEFAULT_GO_MODULE)
        return DEFAULT_GO_MODULE
    match = re.search(r"^module\s+(\S+)", go_mod.read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f"{go_mod} declares no module path")
    return match.group(1)


def sdk_config(settings: Settings) -> SdkConfig:
    """Resolve the SDK release configuration from `settings`."""
    host = settings.host
    source_dir = (settings.sdk_source_dir or REPO_ROOT / "sdks").resolve()
    go_url = settings.sdk_go_repository_url or local_go_repository(settings).as_uri()
    return SdkConfig(
        source_dir=source_dir,
        work_dir=settings.state_dir.resolve() / "sdk-work",
        aws_endpoint_url=settings.aws_endpoint_url,
        aws_region=settings.aws_region,
        staging_bucket=settings.sdk_staging_bucket,
        pypi_url=settings.sdk_pypi_url or f"http://{host}:{settings.sdk_pypi_port}/",
        pypi_username=settings.sdk_pypi_username,
        pypi_password=settings.sdk_pypi_password.get_secret_value(),
        npm_url=settings.sdk_npm_url or f"http://{host}:{settings.sdk_npm_port}/",
        npm_username=settings.sdk_npm_username,
        npm_password=settings.sdk_npm_password.get_secret_value(),
        npm_token=settings.sdk_npm_token.get_secret_value() if settings.sdk_npm_token else None,
        go_repository_url=go_url,
        go_module=read_go_module(source_dir),
        maven_bucket=settings.sdk_maven_bucket,
        maven_prefix=settings.sdk_maven_prefix,
        tracker_url=settings.sdk_tracker_url or f"http://{host}:{settings.sdk_tracker_port}",
        tracker_repository=settings.sdk_tracker_repository,
        tracker_token=settings.sdk_tracker_token.get_secret_value(),
    )


def find_tool(name: str) -> str | None:
    """Return the path of a toolchain command: node/node_modules/.bin first, then PATH."""
    local = NODE_BIN / name
    if local.exists():
        return str(local)
    return shutil.which(name)
