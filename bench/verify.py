"""Benchmark of the Verify API against floors measured in the same run.

Run it with `.venv/bin/python bench/verify.py`. It starts its own local
stack on free ports (Temporal dev server, Redis with the portal's ACL,
moto, the auth-service and dispatch stand-ins, the portal worker and API
as separate processes), then measures:

1. Session starts per second through `POST /v1/verify/sessions`, against a
   floor of bare Temporal workflow starts (a workflow with one activity,
   its own worker process on the same event loop) at the same concurrency.
   Each round lasts until the work of its last starts is done: the floor's
   last 8 workflows have completed, the last 8 sessions have sent their
   code and received its delivery report. Task queues run roughly in
   order, so the earlier starts' work is done by then. Otherwise whichever
   side defers more work to its worker would look faster. Sessions stay
   open afterwards, so their close is not in the measure, while the
   floor's close is. Target: at least 0.6 of the floor.
2. Check latency p50 and p99 through `POST /v1/verify/sessions/{id}/check`,
   against a floor of a bare FastAPI endpoint (uvicorn, same process
   layout) doing one Redis Lua script call. Both sides get the same fixed
   rate of requests (`--check-rate`), and a latency counts from the moment
   a request was due. At a fixed concurrency the faster floor would run
   at a higher rate and queue more. Target: p99 within 2x the floor.

It prints one table with the ratios, the CPU milliseconds each process
spent per start on either side, and exits with 1 when a target is
missed. It writes the figures to
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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402

# The last starts of a round whose work is awaited before the round ends;
# task queues run roughly in order, so theirs is done last.
DRAIN_LAST = 8
DRAIN_POLL_SECONDS = 0.05
# Maximum checks per session, so that the sessions of the start measure
# suffice for the check measure.
BENCH_MAX_ATTEMPTS = 20
START_TARGET = 0.6
CHECK_P99_TARGET = 2.0


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


async def drive_at_rate(
    call: Callable[[int], Awaitable[None]], rate: float, seconds: float
) -> list[float]:
    """Start `call` `rate` times per second for `seconds`; return each latency (s).

    A latency counts from the moment the call was due, so a stalled server
    cannot hide its backlog by slowing down the load.
    """
    latencies: list[float] = []
    began = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []

    async def timed(serial: int, due: float) -> None:
        await call(serial)
        latencies.append(time.perf_counter() - due)

    for serial in range(int(rate * seconds)):
        due = began + serial / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(serial, due)))
    await asyncio.gather(*tasks)
    return latencies


@dataclass
class PhaseTotals:
    """Starts, seconds and CPU seconds by process, summed over a measure's rounds."""

    starts: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


async def measure_phase(
    totals: PhaseTotals,
    start: Callable[[int], Awaitable[None]],
    drain: Callable[[], Awaitable[None]],
    concurrency: int,
    seconds: float,
    processes: list,
) -> None:
    """Run one round of starts, then wait until the work they began is done.

    A start hands work to a worker: the floor's activity, a session's send
    and delivery report. Starting faster than that work runs would push it
    into the next round, so a round's time runs until its last starts'
    work is done.
    """
    before = cpu_seconds(processes)
    began = time.perf_counter()
    totals.starts += (await drive(start, concurrency, seconds))[0]
    await drain()
    totals.seconds += time.perf_counter() - began
    add_cpu(totals.cpu, before, cpu_seconds(processes))


async def wait_until_quiet(client: Client, workflow_id: str) -> None:
    """Return once a workflow has begun, and has no activity or workflow task pending."""
    handle = client.get_workflow_handle(workflow_id)
    while True:
        description = (await handle.describe()).raw_description
        begun = description.workflow_execution_info.history_length > 4
        if (
            begun
            and not description.pending_activities
            and not description.HasField("pending_workflow_task")
        ):
            return
        await asyncio.sleep(DRAIN_POLL_SECONDS)


def cpu_seconds(processes: list) -> dict[str, float]:
    """Return the CPU seconds used so far by this process and each child, by name."""
    import psutil

    names = {managed.process.pid: managed.name for managed in processes}
    totals: dict[str, float] = {}
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            name = "bench" if process.pid == me.pid else names.get(process.pid, process.name())
        except psutil.Error:
            continue
        totals[name] = totals.get(name, 0.0) + times.user + times.system
    return totals


def add_cpu(total: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add the CPU seconds used between two `cpu_seconds` snapshots to `total`."""
    for name, seconds in after.items():
        total[name] = total.get(name, 0.0) + seconds - before.get(name, 0.0)


def per_start(cpu: dict[str, float], starts: int) -> dict[str, float]:
    """Return CPU milliseconds per start, by process, for the processes that used any."""
    return {
        name: round(seconds * 1000 / starts, 2)
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])
        if seconds > 0.005
    }


def percentile(values: list[float], fraction: float) -> float:
    """Return the `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_number(serial: int) -> str:
    """Return a valid, distinct US number in the 555 exchange."""
    area = 201 + serial // 10_000
    return f"+1{area}555{serial % 10_000:04d}"


def start_body(serial: int) -> dict[str, object]:
    """Return a session start request for the bench's `serial`-th number.

    The longest channel timeout keeps every session on its first channel
    for the whole run, so no fallback send lands in a later measure.
    """
    return {"to": bench_number(serial), "channel_timeout_seconds": 900}


async def main(args: argparse.Namespace) -> int:
    from temporalio.testing import WorkflowEnvironment

    from bench import floor
    from portal import temporal
    from portal.auth_service_client import AuthServiceClient
    from portal.keys.format import KeyEnvironment
    from portal.settings import load_settings
    from portal.stack import MOTO_CREDENTIALS, child_environment
    from portal.verify.service import workflow_id
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
    for name, value in MOTO_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    workdir = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    processes: list[ManagedProcess] = []
    print(f"bench: starting the local stack in {workdir}", flush=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=list(temporal.SEARCH_ATTRIBUTE_KEYS),
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
            verify_max_attempts=BENCH_MAX_ATTEMPTS,
            # A round waits for its sessions' delivery reports; a short poll
            # keeps that wait on the work rather than on the poll interval.
            verify_delivery_poll_seconds=0.2,
        )
        portal_env = {**child_environment(settings), **MOTO_CREDENTIALS}

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
                "-m",
                "bench.floor",
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
        # A client without the portal's payload codec: the floor's workflows
        # are bare Temporal, and describing a session reads no payload.
        bare_client = env.client
        results: dict[str, Any] = {}
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout
        # closes them, or a request could go out on a socket being closed.
        limits = httpx.Limits(max_connections=args.concurrency * 2, keepalive_expiry=2.0)
        base = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            # Warm-up: connections, KMS data keys, worker caches. A check
            # unwraps the pepper, which only checks use in the API.
            for serial in range(5):
                response = await http.post(
                    "/v1/verify/sessions", json=start_body(serial), headers=headers
                )
                response.raise_for_status()
                warm_id = response.json()["id"]
                await wait_until_quiet(bare_client, workflow_id(warm_id))
                checked = await http.post(
                    f"/v1/verify/sessions/{warm_id}/check", json={"code": "0" * 6}, headers=headers
                )
                checked.raise_for_status()
            # Waiting for the results proves that the floor worker runs its workflows.
            for _ in range(5):
                await bare_client.execute_workflow(
                    "BenchFloorWorkflow",
                    "warm",
                    id=f"bench-floor-warm-{uuid.uuid4().hex}",
                    task_queue=floor.TASK_QUEUE,
                    execution_timeout=timedelta(seconds=30),
                )

            # Floor and portal phases alternate in short rounds, so a change in
            # the machine's background load falls on both alike.
            phase = args.seconds / args.rounds
            print("bench: measuring starts: bare workflow starts and the API, alternating")

            floor_handles: list[WorkflowHandle] = []

            async def floor_start(_: int) -> None:
                floor_handles.append(
                    await bare_client.start_workflow(
                        "BenchFloorWorkflow",
                        "x",
                        id=f"bench-floor-{uuid.uuid4().hex}",
                        task_queue=floor.TASK_QUEUE,
                    )
                )

            async def floor_drain() -> None:
                await asyncio.gather(*(handle.result() for handle in floor_handles[-DRAIN_LAST:]))

            session_ids: list[str] = []

            async def api_start(serial: int) -> None:
                response = await http.post(
                    "/v1/verify/sessions", json=start_body(100 + serial), headers=headers
                )
                response.raise_for_status()
                session_ids.append(response.json()["id"])

            async def api_drain() -> None:
                # A session is quiet once its code is sent and its delivery
                # report is in; it then waits for a check.
                for session_id in session_ids[-DRAIN_LAST:]:
                    await wait_until_quiet(bare_client, workflow_id(session_id))

            floor_totals = PhaseTotals()
            api_totals = PhaseTotals()
            for _ in range(args.rounds):
                await measure_phase(
                    floor_totals, floor_start, floor_drain, args.concurrency, phase, processes
                )
                await measure_phase(
                    api_totals, api_start, api_drain, args.concurrency, phase, processes
                )
            results["cpu_ms_per_floor_start"] = per_start(floor_totals.cpu, floor_totals.starts)
            results["cpu_ms_per_api_start"] = per_start(api_totals.cpu, api_totals.starts)
            results["start_floor_per_second"] = floor_totals.starts / floor_totals.seconds
            results["api_starts_per_second"] = api_totals.starts / api_totals.seconds
            results["start_ratio"] = (
                results["api_starts_per_second"] / results["start_floor_per_second"]
            )

            print("bench: measuring checks: one Redis script call and the API, alternating")
            # Wrong codes below the attempt limit keep every check a full
            # evaluation: the last attempt would lock the session and signal its
            # workflow, and later ones would get a cheap 409.
            full_checks = [
                session_id for _ in range(BENCH_MAX_ATTEMPTS - 1) for session_id in session_ids
            ]
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
                    floor_latencies += await drive_at_rate(floor_check, args.check_rate, phase)
                    check_latencies += await drive_at_rate(api_check, args.check_rate, phase)
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


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
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
        f"\nVerify bench: starts at concurrency {args.concurrency}, checks at "
        f"{args.check_rate:g}/s, {args.seconds:.0f} s per measure "
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
            {
                "concurrency": args.concurrency,
                "check_rate": args.check_rate,
                "seconds": args.seconds,
                "rounds": args.rounds,
            }
            | results,
            indent=2,
        )
    )
    for key in ("cpu_ms_per_floor_start", "cpu_ms_per_api_start"):
        print(f"{key}: {results[key]}")
    print(f"figures written to {path.relative_to(ROOT)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight.")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="Seconds each measure runs, over all rounds."
    )
    parser.add_argument(
        "--check-rate",
        type=float,
        default=150.0,
        help="Checks per second sent to either side; both get the same load.",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Alternating floor and portal rounds per measure."
    )
    return parser.parse_args()


if __name__ == "__main__":
    from portal.process import end_process

    end_process(asyncio.run(main(parse_args())))
