"""Test helper for the local dispatch server."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.harness.servers import ManagedProcess, free_port


def start_dispatch(workdir: Path) -> ManagedProcess:
    """Start `python -m services.dispatch` on free ports.

    The returned process has `address` (gRPC HOST:PORT), `admin_port` and
    `admin_url` (the HTTP control plane) attributes.
    """
    grpc_port, admin_port = free_port(), free_port()
    admin_url = f"http://127.0.0.1:{admin_port}"

    def ready() -> bool:
        return httpx.get(f"{admin_url}/healthz", timeout=1.0).status_code == 200

    server = ManagedProcess(
        "dispatch",
        [sys.executable, "-m", "services.dispatch"],
        workdir,
        ready=ready,
        env={
            "PORTAL_HOST": "127.0.0.1",
            "PORTAL_DISPATCH_ADDRESS": f"127.0.0.1:{grpc_port}",
            "PORTAL_DISPATCH_ADMIN_PORT": str(admin_port),
            "PORTAL_LOG_LEVEL": "INFO",
        },
    )
    server.address = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    server.admin_port = admin_port  # type: ignore[attr-defined]
    server.admin_url = admin_url  # type: ignore[attr-defined]
    return server.start()
