"""Real servers for docs-release tests: Varnish in front of moto S3, a worker, a namespace.

The docs tests share a Temporal namespace, bucket and Varnish edge of their
own, so the session's in-process worker (which polls the default namespace)
never runs these workflows. A test that injects a fault into the edge
removes it before it ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
import pytest_asyncio
import yaml
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from portal import temporal
from portal.docs_site.edge import vcl_source
from portal.settings import Settings
from portal.stack import find_varnishd
from tests.harness.servers import (
    REPO_ROOT,
    ManagedProcess,
    free_port,
    port_open,
    unavailable,
)

SHARED_SPECS = REPO_ROOT.parent / "shared" / "specs"
SPEC_NAMES = ["twilio_verify_v2.json", "vonage_verify.yml"]
# The smaller document keeps release workflows fast; build tests render both.
RELEASE_SPEC = "vonage_verify.yml"
REDOCLY = REPO_ROOT / "node" / "node_modules" / ".bin" / "redocly"
ALERT_RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    """Folder of the real OpenAPI documents the docs are built from."""
    missing = [name for name in SPEC_NAMES if not (SHARED_SPECS / name).is_file()]
    if missing:
        unavailable(f"OpenAPI documents {missing} not found in {SHARED_SPECS}")
    return SHARED_SPECS


@pytest.fixture(scope="session")
def redocly() -> Path:
    """The pinned Redocly CLI from node/node_modules."""
    if not REDOCLY.exists():
        unavailable("Redocly CLI is not installed; run scripts/setup.sh (npm install in node/)")
    return REDOCLY


class VarnishEdge:
    """A varnishd on free ports in front of the session's moto server.

    `use_vcl` loads and activates new VCL through varnishadm, as on-call would
    on a live edge, so tests can inject and remove faults without a restart.
    """

    def __init__(self, workdir: Path, origin_port: int, bucket: str) -> None:
        varnishd = find_varnishd()
        if varnishd is None:
            unavailable("varnishd is not installed (Debian package varnish)")
        self.workdir = workdir
        self.origin_port = origin_port
        self.bucket = bucket
        self.port = free_port()
        self.admin_port = free_port()
        self.state = workdir / "varnish-state"
        self.vcl_count = 0
        workdir.mkdir(parents=True, exist_ok=True)
        vcl = workdir / "edge.vcl"
        vcl.write_text(self.vcl())
        self.process = ManagedProcess(
            "varnish",
            [
                varnishd,
                "-F",
                # pytest's temporary folders are private to root, so the VCL
                # compiler must not drop to the varnish user.
                "-j", "none",
                "-n", str(self.state),
                "-a", f"127.0.0.1:{self.port}",
                "-T", f"127.0.0.1:{self.admin_port}",
                "-f", str(vcl),
                "-s", "malloc,32m",
            ],
            workdir,
            ready=lambda: port_open(self.port),
        )  # fmt: skip

    @property
    def url(self) -> str:
        """Base URL of the edge."""
        return f"http://127.0.0.1:{self.port}"

    def vcl(self, purger_address: str = "127.0.0.1") -> str:
        """Return the edge's VCL, accepting purges only from `purger_address`."""
        return vcl_source(
            origin_host="127.0.0.1",
            origin_port=self.origin_port,
            bucket=self.bucket,
            purger_address=purger_address,
        )

    def use_vcl(self, text: str) -> None:
        """Compile `text` and make it the active VCL of the running edge."""
        self.vcl_count += 1
        name = f"v{self.vcl_count}"
        path = self.workdir / f"{name}.vcl"
        path.write_text(text)
        for command in (["vcl.load", name, str(path)], ["vcl.use", name]):
            result = subprocess.run(
                ["varnishadm", "-n", str(self.state), *command],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode == 0, f"varnishadm {command}: {result.stdout}{result.stderr}"

    def refuse_purges(self) -> None:
        """Fault: a purge ACL that names another host, so the portal's purges get 403."""
        self.use_vcl(self.vcl(purger_address="192.0.2.10"))

    def accept_purges(self) -> None:
        """Remove the fault: purges from 127.0.0.1 are accepted again."""
        self.use_vcl(self.vcl())


def settings_env(settings: Settings) -> dict[str, str]:
    """Return `PORTAL_*` variables that reproduce `settings` in a child process."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"PORTAL_{name.upper()}"] = str(value)
    return env


def start_worker(settings: Settings, workdir: Path, name: str = "worker") -> ManagedProcess:
    """Start `python -m workers` with `settings`, ready once its metrics answer."""

    def ready() -> bool:
        url = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
        return httpx.get(url, timeout=1.0).status_code == 200

    worker = ManagedProcess(
        name,
        [sys.executable, "-m", "workers"],
        workdir,
        ready=ready,
        env={**settings_env(settings), "PYTHONUNBUFFERED": "1"},
        startup_timeout=60.0,
    )
    return worker.start()


async def register_namespace(env: WorkflowEnvironment, namespace: str) -> None:
    """Create a Temporal namespace with the portal's search attributes."""
    client = env.client
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={name: keyword for name in temporal.SEARCH_ATTRIBUTES},
        )
    )


@dataclass
class DocsStack:
    """The docs tests' stack: settings, Varnish edge, worker and Temporal client."""

    settings: Settings
    edge: VarnishEdge
    worker: ManagedProcess
    client: Client
    workdir: Path

    def s3(self):  # noqa: ANN201 - a boto3 client
        """Return an S3 client on the session's moto server."""
        return boto3.client(
            "s3", endpoint_url=self.settings.aws_endpoint_url, region_name="us-east-1"
        )

    def cloudfront(self):  # noqa: ANN201 - a boto3 client
        """Return a CloudFront client on the session's moto server."""
        return boto3.client(
            "cloudfront", endpoint_url=self.settings.aws_endpoint_url, region_name="us-east-1"
        )

    def worker_metrics(self) -> str:
        """Return the worker's /metrics text."""
        url = f"http://127.0.0.1:{self.settings.worker_metrics_port}/metrics"
        return httpx.get(url, timeout=5.0).text

    def restart_worker(self, **overrides: object) -> None:
        """Kill the worker, as a crash would, and start it again with `overrides`."""
        self.worker.kill()
        self.settings = self.settings.model_copy(update=overrides)
        self.worker = start_worker(self.settings, self.workdir)


def docs_settings(base: Settings, workdir: Path, namespace: str, edge: VarnishEdge) -> Settings:
    """Settings of the docs stack: its own namespace, bucket, edge and ports."""
    spec_dir = workdir / "specs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    for name in SPEC_NAMES:
        shutil.copy(SHARED_SPECS / name, spec_dir / name)
    return base.model_copy(
        update={
            "temporal_namespace": namespace,
            "state_dir": workdir / "state",
            "docs_bucket": edge.bucket,
            "docs_edge_url": edge.url,
            "docs_spec_dir": spec_dir,
            "docs_purge_rounds": 2,
            "docs_purge_backoff_seconds": 0.5,
            # Long, so only a manual purge or a signal ends a stale release in tests.
            "docs_stale_recheck_seconds": 600,
            "docs_freshness_interval_seconds": 3600,
            "worker_metrics_port": free_port(),
            "worker_sdk_metrics_port": free_port(),
        }
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def docs_stack(
    portal_settings: Settings,
    temporal_env: WorkflowEnvironment,
    moto_server: ManagedProcess,
    shared_specs: Path,
    redocly: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[DocsStack]:
    """Varnish in front of moto S3, a worker subprocess and a namespace for the docs tests."""
    workdir = tmp_path_factory.mktemp("docs-stack")
    namespace = f"docs-{uuid.uuid4().hex[:8]}"
    await register_namespace(temporal_env, namespace)
    edge = VarnishEdge(workdir / "edge", moto_server.port, f"docs-{uuid.uuid4().hex[:10]}")
    try:
        edge.process.start()
    except RuntimeError as exc:
        unavailable(f"varnishd failed to start: {exc}")
    settings = docs_settings(portal_settings, workdir, namespace, edge)
    worker = start_worker(settings, workdir)
    client = await temporal.connect(settings)
    stack = DocsStack(settings=settings, edge=edge, worker=worker, client=client, workdir=workdir)
    yield stack
    await capture_replay_fixtures(stack)
    stack.worker.stop()
    edge.process.stop()


async def capture_replay_fixtures(stack: DocsStack) -> None:
    """Export the docs workflows as replay fixtures when `portal ops fixtures` runs the tests.

    The capture plugin reads only the session's default namespace, and these
    workflows run in a namespace of their own, so the stack exports them itself.
    """
    from portal.ops import fixtures
    from portal.ops.replay import HistoryReplayer
    from workers.docs import DOCS_WORKFLOWS
    from workers.registry import all_workflows

    if fixtures.ENV_LABEL not in os.environ:
        return
    ours = [fixtures.workflow_type_name(cls) for cls in DOCS_WORKFLOWS]
    requested = [name for name in os.environ.get(fixtures.ENV_TYPES, "").split(",") if name]
    types = [name for name in ours if not requested or name in requested]
    replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(stack.settings))
    await fixtures.capture_fixtures(
        stack.client,
        replayer,
        types,
        label=os.environ[fixtures.ENV_LABEL],
        overwrite=bool(os.environ.get(fixtures.ENV_OVERWRITE)),
        directory=Path(os.environ.get(fixtures.ENV_DIR) or fixtures.FIXTURES_DIR),
    )


def edge_manifest(stack: DocsStack) -> dict:
    """Return the manifest the edge serves now."""
    response = httpx.get(f"{stack.edge.url}/manifest.json", timeout=5.0)
    assert response.status_code == 200, response.text[:300]
    return json.loads(response.content)


@pytest.fixture
def release_id() -> Iterator[str]:
    """A fresh release id."""
    yield f"t{uuid.uuid4().hex[:10]}"


class PrometheusServer:
    """A real Prometheus scraping the docs worker every second with the portal's alert rules."""

    def __init__(self, workdir: Path, target_port: int) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            unavailable("prometheus is not installed (Debian package prometheus)")
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(ALERT_RULES)],
                    "scrape_configs": [
                        {
                            "job_name": "docs-worker",
                            "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                        }
                    ],
                }
            )
        )
        self.process = ManagedProcess(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            workdir,
            ready=lambda: httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200,
        )

    @property
    def url(self) -> str:
        """Base URL of the Prometheus HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def query(self, expression: str) -> list[dict]:
        """Evaluate a PromQL expression now and return the result vector."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]


def alert_expression(name: str) -> str:
    """Return the `expr` of alert `name` in deploy/prometheus/alerts.yml."""
    rules = yaml.safe_load(ALERT_RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return rule["expr"]
    raise KeyError(name)
