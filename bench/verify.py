"""Benchmark of the Verify API against floors measured in the same run.

Run it with `.venv/bin/python bench/verify.py`. It starts its own local
stack on free ports (Temporal dev server, Redis with the portal's ACL,
moto, the auth-service and dispatch stand-ins, the portal worker and API
as separate processes), then measures:

1. Session starts per second through `POST /v1/verify/sessions`, against a
   floor of bare Temporal workflow starts (a workflow with one activity,
   its own worker process) at the same concurrency. Target: at least 0.6
   of the floor.
2. Check latency p50 and p99 through `POST /v1/verify/sessions/{id}/check`,
   against a floor of a bare FastAPI endpoint (uvicorn, same process
   layout) doing one Redis Lua script call. Target: p99 within 2x the floor.

It prints one table with the ratios and writes the figures to
`bench/results/verify-<time>.json`. Figures depend on the machine and on
whatever else runs on it; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from temporalio import activity, workflow  # noqa: E402
from temporalio.common import SearchAttributeKey  # noqa: E402

FLOOR_TASK_QUEUE = "bench-floor"
# Factories of search attribute keys by the type names in portal.temporal.
SEARCH_ATTRIBUTE_KEYS = {
    "Keyword": SearchAttributeKey.for_keyword,
    "Text": SearchAttributeKey.for_text,
    "Int": SearchAttributeKey.for_int,
    "Double": SearchAttributeKey.for_float,
    "Bool": SearchAttributeKey.for_bool,
    "Datetime": SearchAttributeKey.for_datetime,
}
START_TARGET = 0.6
CHECK_P99_TARGET = 2.0


@activity.defn
async def bench_echo(value: str) -> str:
    """Return `value`: the one activity of the floor workflow."""
    return value


@workflow.defn
class BenchFloorWorkflow:
    """The start floor: a workflow that runs one trivial activity."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            bench_echo, value, start_to_close_timeout=timedelta(seconds=10)
        )


def create_floor_app() -> FastAPI:
    """Return the check floor: one endpoint that runs one Redis Lua script call."""
    from redis.asyncio import Redis

    app = FastAPI()
    redis = Redis.from_url(os.environ["PORTAL_REDIS_URL"])
    script = redis.register_script("return redis.call('HINCRBY', KEYS[1], 'n', 1)")

    @app.post("/floor/check")
    async def check() -> dict[str, int]:
        return {"n": await script(keys=["portal:bench:floor"])}

    return app


async def run_floor_worker(address: str) -> None:
    """Poll the floor task queue until killed (runs as its own process)."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    async with Worker(
        client,
        task_queue=FLOOR_TASK_QUEUE,
        workflows=[BenchFloorWorkflow],
        activities=[bench_echo],
    ):
        await asyncio.Event().wait()


async def drive(
    call: Callable[[int], Awaitable[None]], concurrency: int, seconds: float
) -> tuple[int, list[float]]:
    """Run `call` from `concurrency` tasks for `seconds`; return completions and latencies (s)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def loop() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await call(next(counter))
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies), latencies


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_number(serial: int) -> str:
    """Return a valid, distinct US number in the 555 exchange."""
    area = 201 + serial // 10_000
    return f"+1{area}555{serial % 10_000:04d}"


async def main(args: argparse.Namespace) -> int:
    from temporalio.testing import WorkflowEnvironment

    from portal import temporal
    from portal.auth_service_client import AuthServiceClient
    from portal.keys.format import KeyEnvironment
    from portal.settings import load_settings
    from portal.stack import child_environment
    from tests.harness.dispatch import start_dispatch
    from tests.harness.keys import start_auth_service
    from tests.harness.servers import (
        ManagedProcess,
        free_port,
        port_open,
        start_moto,
        start_redis,
        temporal_cli,
    )

    # Credentials moto accepts; only the local moto server receives them.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    workdir = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    processes: list[ManagedProcess] = []
    print(f"bench: starting the local stack in {workdir}", flush=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=[
            SEARCH_ATTRIBUTE_KEYS[kind](name) for name, kind in temporal.SEARCH_ATTRIBUTES.items()
        ],
        ui=False,
        dev_server_log_level="error",
    )
    try:
        redis = start_redis(workdir / "redis", acl=True)
        processes.append(redis)
        moto = start_moto(workdir / "moto")
        processes.append(moto)
        auth = start_auth_service(workdir / "auth-service")
        processes.append(auth)
        dispatch = start_dispatch(workdir / "dispatch")
        processes.append(dispatch)
        settings = load_settings(
            environment="test",
            state_dir=workdir / "state",
            temporal_address=env.client.service_client.config.target_host,
            redis_url=redis.url,
            redis_admin_url=redis.admin_url,
            aws_endpoint_url=moto.url,
            auth_service_address=auth.address,
            dispatch_address=dispatch.address,
            dispatch_admin_port=dispatch.admin_port,
            api_port=free_port(),
            worker_metrics_port=free_port(),
            worker_sdk_metrics_port=free_port(),
            log_level="WARNING",
            # The bench measures the portal, not its caps.
            verify_cap_tenant_sessions="1000000 per minute",
            verify_cap_tenant_dispatches="1000000 per minute",
            verify_cap_global_dispatches="100000 per second",
        )
        portal_env = {
            **child_environment(settings),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

        worker = ManagedProcess(
            "worker",
            [sys.executable, "-m", "workers"],
            workdir,
            env=portal_env,
            ready=lambda: port_open(settings.worker_metrics_port),
            startup_timeout=60,
        )
        processes.append(worker.start())
        api = ManagedProcess(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(settings.api_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            workdir,
            env=portal_env,
            ready=lambda: port_open(settings.api_port),
        )
        processes.append(api.start())
        floor_port = free_port()
        floor_api = ManagedProcess(
            "floor-api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.verify:create_floor_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(floor_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            workdir,
            env=portal_env,
            ready=lambda: port_open(floor_port),
        )
        processes.append(floor_api.start())
        floor_worker = ManagedProcess(
            "floor-worker",
            [
                sys.executable,
                str(THIS_FILE),
                "--floor-worker",
                settings.temporal_address,
            ],
            workdir,
            env=portal_env,
            ready=lambda: True,
        )
        processes.append(floor_worker.start())
        await asyncio.sleep(2)

        async with AuthServiceClient(settings) as auth_client:
            created = await auth_client.create_key(
                tenant_id=f"tenant-bench-{uuid.uuid4().hex[:6]}",
                name="bench",
                environment=KeyEnvironment.TEST,
                scopes=["verify:send", "verify:check"],
                created_by="bench",
            )
        headers = {"Authorization": f"Bearer {created.secret}"}
        client = await temporal.connect(settings)
        results: dict[str, float] = {}
        limits = httpx.Limits(max_connections=args.concurrency * 2)
        base = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            # Warm-up: connections, KMS data keys, worker caches.
            for serial in range(5):
                response = await http.post(
                    "/v1/verify/sessions", json={"to": bench_number(serial)}, headers=headers
                )
                response.raise_for_status()
            for _ in range(5):
                await client.start_workflow(
                    "BenchFloorWorkflow",
                    "warm",
                    id=f"bench-floor-warm-{uuid.uuid4().hex}",
                    task_queue=FLOOR_TASK_QUEUE,
                )

            # Floor and portal phases alternate in short rounds, so a change in
            # the machine's background load falls on both alike.
            phase = args.seconds / args.rounds
            print("bench: measuring starts: bare workflow starts and the API, alternating")

            async def floor_start(_: int) -> None:
                await client.start_workflow(
                    "BenchFloorWorkflow",
                    "x",
                    id=f"bench-floor-{uuid.uuid4().hex}",
                    task_queue=FLOOR_TASK_QUEUE,
                )

            session_ids: list[str] = []

            async def api_start(serial: int) -> None:
                response = await http.post(
                    "/v1/verify/sessions", json={"to": bench_number(100 + serial)}, headers=headers
                )
                response.raise_for_status()
                session_ids.append(response.json()["id"])

            floor_count = api_count = 0
            for _ in range(args.rounds):
                floor_count += (await drive(floor_start, args.concurrency, phase))[0]
                api_count += (await drive(api_start, args.concurrency, phase))[0]
            results["start_floor_per_second"] = floor_count / args.seconds
            results["api_starts_per_second"] = api_count / args.seconds
            results["start_ratio"] = (
                results["api_starts_per_second"] / results["start_floor_per_second"]
            )

            print("bench: measuring checks: one Redis script call and the API, alternating")
            # Four wrong codes per session keep every check a full evaluation
            # without locking the session (the fifth miss would).
            full_checks = [session_id for session_id in session_ids for _ in range(4)]
            attempts = itertools.cycle(full_checks)

            async def api_check(_: int) -> None:
                session_id = next(attempts)
                response = await http.post(
                    f"/v1/verify/sessions/{session_id}/check",
                    json={"code": "0" * 6},
                    headers=headers,
                )
                if response.status_code not in (200, 409, 429):
                    response.raise_for_status()

            floor_latencies: list[float] = []
            check_latencies: list[float] = []
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{floor_port}", timeout=30, limits=limits
            ) as floor_http:

                async def floor_check(_: int) -> None:
                    (await floor_http.post("/floor/check")).raise_for_status()

                for _ in range(args.rounds):
                    floor_latencies += (await drive(floor_check, args.concurrency, phase))[1]
                    check_latencies += (await drive(api_check, args.concurrency, phase))[1]
            if len(check_latencies) > len(full_checks):
                print(
                    f"bench: note: {len(check_latencies) - len(full_checks)} checks hit sessions "
                    "out of attempts (a cheaper 429); lengthen the start phase"
                )

        for name, values in (("check_floor", floor_latencies), ("check", check_latencies)):
            results[f"{name}_p50_ms"] = percentile(values, 0.50) * 1000
            results[f"{name}_p99_ms"] = percentile(values, 0.99) * 1000
            results[f"{name}_mean_ms"] = statistics.fmean(values) * 1000
        results["check_p50_ratio"] = results["check_p50_ms"] / results["check_floor_p50_ms"]
        results["check_p99_ratio"] = results["check_p99_ms"] / results["check_floor_p99_ms"]
    finally:
        for process in reversed(processes):
            process.stop()
        await env.shutdown()

    report(results, args)
    ok = results["start_ratio"] >= START_TARGET and results["check_p99_ratio"] <= CHECK_P99_TARGET
    return 0 if ok else 1


def report(results: dict[str, float], args: argparse.Namespace) -> None:
    """Print the figures and ratios, and write them to bench/results/."""
    rows = [
        (
            "session starts/s (API)",
            results["api_starts_per_second"],
            "starts/s floor",
            results["start_floor_per_second"],
            results["start_ratio"],
            f">= {START_TARGET}",
        ),
        (
            "check p50 ms (API)",
            results["check_p50_ms"],
            "p50 ms floor",
            results["check_floor_p50_ms"],
            results["check_p50_ratio"],
            "-",
        ),
        (
            "check p99 ms (API)",
            results["check_p99_ms"],
            "p99 ms floor",
            results["check_floor_p99_ms"],
            results["check_p99_ratio"],
            f"<= {CHECK_P99_TARGET}",
        ),
    ]
    print(
        f"\nVerify bench: concurrency {args.concurrency}, {args.seconds:.0f} s per measure "
        f"in {args.rounds} alternating rounds, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'measure':26} {'value':>9}   {'floor':16} {'value':>9}   {'ratio':>6}  target")
    for name, value, floor_name, floor, ratio, target in rows:
        print(f"{name:26} {value:9.2f}   {floor_name:16} {floor:9.2f}   {ratio:6.2f}  {target}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"verify-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {"concurrency": args.concurrency, "seconds": args.seconds, "rounds": args.rounds}
            | results,
            indent=2,
        )
    )
    print(f"figures written to {path.relative_to(ROOT)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight.")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="Seconds each measure runs, over all rounds."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Alternating floor and portal rounds per measure."
    )
    parser.add_argument("--floor-worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.floor_worker:
        asyncio.run(run_floor_worker(arguments.floor_worker))
    else:
        sys.exit(asyncio.run(main(arguments)))
