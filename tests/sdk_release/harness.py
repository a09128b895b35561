"""Local registries, a Temporal namespace and installers for the SDK release tests.

Each test module gets its own registries: pypiserver, Verdaccio, the issue
tracker, a bare git repository, and Maven and staging buckets on the
session's moto. It also gets its own Temporal namespace, so its workers never
take tasks of another module or of the session's portal worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from portal.sdk.config import MAVEN_ARTIFACT, NPM_PACKAGE, PYTHON_PACKAGE, sdk_config
from portal.settings import Settings
from portal.temporal import SEARCH_ATTRIBUTES
from services.registries import local
from tests.harness.servers import ManagedProcess, free_port, unavailable


@dataclass
class Registries:
    """The running local registries of one test module and the settings that reach them."""

    settings: Settings
    pypi: ManagedProcess
    npm: ManagedProcess
    tracker: ManagedProcess
    processes: list[ManagedProcess] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every registry server."""
        for process in self.processes:
            process.stop()


def _http_ready(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code < 500


def start_registry(
    registry: local.LocalRegistry, workdir: Path, env: dict[str, str]
) -> ManagedProcess:
    """Start one local registry's command line and wait for its health URL."""
    return ManagedProcess(
        registry.name,
        registry.argv,
        workdir,
        ready=lambda: _http_ready(registry.health_url),
        env={**env, **registry.env},
        startup_timeout=60.0,
    ).start()


async def create_namespace(client: Client, name: str) -> None:
    """Register namespace `name` with the portal's search attributes."""
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=name,
            search_attributes={
                attribute: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                for attribute, kind in SEARCH_ATTRIBUTES.items()
                if kind == "Keyword"
            },
        )
    )


def release_settings(base: Settings, workdir: Path, namespace: str) -> Settings:
    """Return settings for one module: its namespace, registry ports, buckets and fast retries."""
    suffix = uuid.uuid4().hex[:8]
    return base.model_copy(
        update={
            "temporal_namespace": namespace,
            "state_dir": workdir / "state",
            "sdk_pypi_port": free_port(),
            "sdk_npm_port": free_port(),
            "sdk_tracker_port": free_port(),
            "sdk_staging_bucket": f"sdk-staging-{suffix}",
            "sdk_maven_bucket": f"sdk-maven-{suffix}",
            "sdk_publish_max_attempts": 3,
            "sdk_publish_initial_interval_seconds": 0.5,
            "sdk_publish_max_interval_seconds": 1.0,
            "sdk_heartbeat_timeout_seconds": 5.0,
            "worker_metrics_port": free_port(),
            "worker_sdk_metrics_port": free_port(),
        }
    )


def start_registries(settings: Settings, workdir: Path) -> Registries:
    """Start pypiserver, Verdaccio and the tracker, and create the bare git repository."""
    if local.verdaccio_binary() is None:
        unavailable("verdaccio is not installed under node/; run scripts/setup.sh")
    for tool in ("npm", "go", "javac", "jar", "git"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed; run scripts/setup.sh")
    local.ensure_go_repository(settings)
    env = local.sdk_environment(settings) | {"PORTAL_STATE_DIR": str(settings.state_dir)}
    pypi = start_registry(local.pypiserver(settings), workdir / "pypi", env)
    npm = start_registry(local.verdaccio(settings), workdir / "npm", env)
    tracker = start_registry(local.issue_tracker(settings, env), workdir / "tracker", env)
    return Registries(settings, pypi, npm, tracker, [pypi, npm, tracker])


# --- What each registry contains -------------------------------------------------


def pypi_files(settings: Settings) -> list[str]:
    """Return the file names the PyPI index lists for the SDK."""
    config = sdk_config(settings)
    response = httpx.get(f"{config.pypi_url}simple/{PYTHON_PACKAGE}/", timeout=5.0)
    if response.status_code == 404:
        return []
    import re

    return sorted(re.findall(r">([^<]+\.whl)<", response.text))


def npm_versions(settings: Settings) -> list[str]:
    """Return the versions the npm registry lists for the SDK."""
    config = sdk_config(settings)
    response = httpx.get(config.npm_url + NPM_PACKAGE.replace("/", "%2f"), timeout=5.0)
    if response.status_code == 404:
        return []
    return sorted(response.json()["versions"])


def git_tags(settings: Settings) -> list[str]:
    """Return the tags of the Go module's repository."""
    config = sdk_config(settings)
    output = subprocess.run(
        ["git", "ls-remote", "--tags", config.go_repository_url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(line.split("refs/tags/")[1] for line in output.splitlines() if "^{}" not in line)


def maven_key(settings: Settings, version: str, suffix: str = ".jar") -> str:
    """Return the S3 key of a file of `version` in the Maven layout."""
    config = sdk_config(settings)
    return (
        f"{config.maven_prefix}/com/examplesms/{MAVEN_ARTIFACT}/{version}/"
        f"{MAVEN_ARTIFACT}-{version}{suffix}"
    )


def maven_get(settings: Settings, key: str) -> bytes | None:
    """Return the object at `key` of the Maven bucket, or None when it does not exist."""
    from portal.sdk.s3 import read_object, s3_client

    config = sdk_config(settings)
    return read_object(s3_client(config), config.maven_bucket, key)


# --- Installing from each registry as a user would ----------------------------


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    """Run a command and return its stdout; fail with its output when it exits non-zero."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{argv[:3]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def pip_install(settings: Settings, version: str, folder: Path) -> str:
    """Install the Python SDK at `version` from the local index; return its __version__."""
    config = sdk_config(settings)
    folder.mkdir(parents=True)
    run(
        [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
            "--disable-pip-version-check", "--target", str(folder),
            "--index-url", f"{config.pypi_url}simple/", f"{PYTHON_PACKAGE}=={version}",
        ],
        folder.parent,
    )  # fmt: skip
    return run(
        [sys.executable, "-c", "import example_sms_verify as m; print(m.__version__)"],
        folder.parent,
        env={"PYTHONPATH": str(folder)},
    ).strip()


def npm_install(settings: Settings, version: str, folder: Path) -> str:
    """Install the TypeScript SDK at `version` from the local registry; return its VERSION."""
    config = sdk_config(settings)
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "consumer", "private": True}))
    run(
        [
            "npm", "install", f"{NPM_PACKAGE}@{version}", "--registry", config.npm_url,
            "--no-audit", "--no-fund", "--cache", str(folder / ".npm-cache"),
        ],
        folder,
    )  # fmt: skip
    return run(["node", "-e", f"console.log(require('{NPM_PACKAGE}').VERSION)"], folder).strip()


def go_resolve(settings: Settings, version: str, folder: Path) -> str:
    """Build a module requiring the Go SDK at v`version` from the bare repository; run it.

    Go fetches the module straight from git (GOPROXY=direct, no checksum
    database for the private path), and git's insteadOf points the
    module's public URL at the local bare repository.
    """
    config = sdk_config(settings)
    module = config.go_module
    folder.mkdir(parents=True)
    (folder / "go.mod").write_text(f"module consumer\n\ngo 1.19\n\nrequire {module} v{version}\n")
    (folder / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n'
        f'\tverify "{module}"\n)\n\nfunc main() {{ fmt.Println(verify.Version) }}\n'
    )
    env = {
        "GOPATH": str(folder / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "direct",
        "GOPRIVATE": module,
        "GONOSUMDB": module,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{config.go_repository_url}.insteadOf",
        "GIT_CONFIG_VALUE_0": f"https://{module}",
    }
    output = run(["go", "run", "."], folder, env=env).strip()
    run(["go", "clean", "-modcache"], folder, env=env)
    return output


def java_compile_and_run(jar: Path, folder: Path) -> str:
    """Compile a class against the jar and run it; return what it prints (the SDK version)."""
    (folder / "Consumer.java").write_text(
        "public class Consumer { public static void main(String[] a) {"
        " System.out.println(com.examplesms.verify.VerifyClient.version()); } }\n"
    )
    run(["javac", "-cp", str(jar), "-d", str(folder), str(folder / "Consumer.java")], folder)
    return run(["java", "-cp", f"{jar}:{folder}", "Consumer"], folder).strip()


async def wait_for(check, within: float, what: str, interval: float = 0.25):
    """Await `check()` until it returns a truthy value; fail naming `what` after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {within:.0f} s; last: {last!r}")


def tracker_issues(settings: Settings, version: str) -> list[dict]:
    """Return every issue (open or closed) of release `version` in the local tracker."""
    config = sdk_config(settings)
    response = httpx.get(
        f"{config.tracker_url}/repos/{config.tracker_repository}/issues",
        params={"state": "all", "labels": f"sdk-release:{version}"},
        headers={"Authorization": f"Bearer {config.tracker_token}"},
        timeout=5.0,
    )
    response.raise_for_status()
    return response.json()


def start_prometheus(workdir: Path, scrape_port: int) -> ManagedProcess:
    """Start Prometheus with the portal's alert rules, scraping `scrape_port` every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus is not installed; run scripts/setup.sh")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    rules = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}\n"
        "scrape_configs:\n  - job_name: worker\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{scrape_port}']\n"
    )
    server = ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        workdir,
        ready=lambda: _http_ready(f"http://127.0.0.1:{port}/-/ready"),
        startup_timeout=60.0,
    )
    server.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return server.start()


def firing_alerts(prometheus: ManagedProcess) -> set[str]:
    """Return the names of the alerts Prometheus reports as firing."""
    response = httpx.get(f"{prometheus.url}/api/v1/alerts", timeout=5.0)  # type: ignore[attr-defined]
    return {
        alert["labels"]["alertname"]
        for alert in response.json()["data"]["alerts"]
        if alert["state"] == "firing"
    }


def prometheus_value(prometheus: ManagedProcess, query: str) -> float | None:
    """Return the value of an instant query with one result, or None when it has none."""
    response = httpx.get(
        f"{prometheus.url}/api/v1/query",  # type: ignore[attr-defined]
        params={"query": query},
        timeout=5.0,
    )
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


async def portal_command(settings: Settings, *args: str) -> tuple[int, str]:
    """Run `python -m portal ARGS` with `settings` in its environment; return (exit code, output).

    The subprocess is awaited without blocking the event loop, because the
    in-process worker runs on that loop and must serve the command's workflow calls.
    """
    from tests.harness.keys import settings_environment

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portal",
        *args,
        env={**os.environ, **settings_environment(settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    return process.returncode or 0, output.decode()


async def wait_settled(client: Client, settings: Settings, version: str):
    """Wait until release `version` is published, rejected, or partial with its issue filed."""
    from portal.errors import DependencyUnavailableError
    from portal.sdk.models import ReleaseState
    from portal.sdk.releases import release_status

    async def settled():
        try:
            status = await release_status(client, settings, version)
        except DependencyUnavailableError:
            # Queries time out while no worker polls, such as after a worker is killed.
            return None
        if status.state is ReleaseState.PUBLISHING:
            return None
        if status.state is ReleaseState.PARTIAL and status.issue is None:
            return None
        return status

    return await wait_for(settled, 240, f"release {version} settled")
