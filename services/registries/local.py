"""Prepare and launch the local registries an SDK release publishes to.

`portal up` runs them as services, and the tests start the same command
lines on free ports. Each registry keeps its data under
`<state dir>/registries/`, and the credentials come from the SDK settings,
written into htpasswd files that pypiserver and Verdaccio both read.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from passlib.apache import HtpasswdFile

from portal.sdk.config import find_tool, local_go_repository
from portal.settings import Settings

if TYPE_CHECKING:
    from portal.stack import Service

REPO_ROOT = Path(__file__).resolve().parents[2]
VERDACCIO_TEMPLATE = REPO_ROOT / "deploy" / "verdaccio" / "config.yaml"


@dataclass
class LocalRegistry:
    """Command line and readiness URL of one local registry server."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str]


def registries_dir(settings: Settings) -> Path:
    """Folder holding every local registry's data."""
    return settings.state_dir.resolve() / "registries"


def write_htpasswd(path: Path, username: str, password: str) -> Path:
    """Write an htpasswd file with one user (apr1 hash), readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    htpasswd = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(username, password)
    htpasswd.save()
    path.chmod(0o600)
    return path


def ensure_go_repository(settings: Settings) -> Path:
    """Create the bare git repository standing in for the Go module's repository."""
    path = local_go_repository(settings)
    if not (path / "HEAD").exists():
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "main", str(path)],
            check=True,
            capture_output=True,
        )
    return path


def pypiserver(settings: Settings) -> LocalRegistry:
    """Return pypiserver serving `registries/pypi`, uploads allowed for the SDK user only."""
    root = registries_dir(settings) / "pypi"
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    htpasswd = write_htpasswd(
        root / "htpasswd",
        settings.sdk_pypi_username,
        settings.sdk_pypi_password.get_secret_value(),
    )
    argv = [
        sys.executable, "-m", "pypiserver", "run",
        "--interface", settings.host,
        "--port", str(settings.sdk_pypi_port),
        "--disable-fallback",
        "--authenticate", "update",
        "--passwords", str(htpasswd),
        "--server", "auto",
        str(packages),
    ]  # fmt: skip
    return LocalRegistry(
        "pypiserver", argv, f"http://{settings.host}:{settings.sdk_pypi_port}/simple/", {}
    )


def verdaccio_binary() -> str | None:
    """Return the Verdaccio executable that `npm install` put under node/, or None."""
    return find_tool("verdaccio")


def verdaccio(settings: Settings) -> LocalRegistry:
    """Return Verdaccio with its config rendered under `registries/npm`.

    Raises:
        FileNotFoundError: when Verdaccio is not installed under node/.
    """
    binary = verdaccio_binary()
    if binary is None:
        raise FileNotFoundError("verdaccio not found under node/node_modules; run scripts/setup.sh")
    root = registries_dir(settings) / "npm"
    (root / "storage").mkdir(parents=True, exist_ok=True)
    htpasswd = write_htpasswd(
        root / "htpasswd",
        settings.sdk_npm_username,
        settings.sdk_npm_password.get_secret_value(),
    )
    config = (
        VERDACCIO_TEMPLATE.read_text()
        .replace("{{STORAGE}}", str(root / "storage"))
        .replace("{{HTPASSWD}}", str(htpasswd))
        .replace("{{LISTEN}}", f"{settings.host}:{settings.sdk_npm_port}")
    )
    config_path = root / "config.yaml"
    config_path.write_text(config)
    return LocalRegistry(
        "verdaccio",
        [binary, "--config", str(config_path)],
        f"http://{settings.host}:{settings.sdk_npm_port}/-/ping",
        {"NODE_NO_WARNINGS": "1"},
    )


def issue_tracker(settings: Settings, env: dict[str, str]) -> LocalRegistry:
    """Return the local issue tracker (`python -m services.issue_tracker`)."""
    return LocalRegistry(
        "issue-tracker",
        [sys.executable, "-m", "services.issue_tracker"],
        f"http://{settings.host}:{settings.sdk_tracker_port}/healthz",
        env,
    )


def sdk_environment(settings: Settings) -> dict[str, str]:
    """Return every `PORTAL_SDK_*` setting as environment variables for child processes."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        if not name.startswith("sdk_"):
            continue
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"PORTAL_{name.upper()}"] = str(value)
    return env


def sdk_services(settings: Settings, env: dict[str, str]) -> tuple[list[Service], list[str]]:
    """Return the `portal up` services of the local registries and tracker, and notes.

    A registry whose URL is set points at a real one, so no local server starts
    for it.
    """
    from portal.stack import Endpoint, Service, http_ok

    services: list[Service] = []
    notes: list[str] = []
    if settings.sdk_go_repository_url is None:
        ensure_go_repository(settings)
    local: list[LocalRegistry] = []
    if settings.sdk_pypi_url is None:
        local.append(pypiserver(settings))
    if settings.sdk_npm_url is None:
        try:
            local.append(verdaccio(settings))
        except FileNotFoundError as exc:
            notes.append(f"{exc}: SDK releases cannot publish the TypeScript SDK.")
    if settings.sdk_tracker_url is None:
        local.append(issue_tracker(settings, env))
    labels = {
        "pypiserver": "PyPI index for SDK releases (pypiserver)",
        "verdaccio": "npm registry for SDK releases (Verdaccio)",
        "issue-tracker": "Issue tracker for SDK releases (GitHub Issues REST)",
    }
    for registry in local:
        scheme, _, netloc = registry.health_url.split("/", 3)[:3]
        services.append(
            Service(
                name=registry.name,
                argv=registry.argv,
                health=partial(http_ok, registry.health_url),
                endpoints=[Endpoint(labels[registry.name], f"{scheme}//{netloc}/")],
                env=registry.env,
            )
        )
    if settings.sdk_go_repository_url is None:
        notes.append(f"Go SDK module repository (bare git): {local_go_repository(settings)}")
    return services, notes
