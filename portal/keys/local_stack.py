"""The local auth-service as a service of `portal up`, and its health probe."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portal.settings import Settings
from portal.stack import Endpoint, Service


async def auth_service_serving(address: str) -> bool:
    """Return True when the gRPC health service at `address` reports SERVING."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False
    return response.status == health_pb2.HealthCheckResponse.SERVING


def auth_service_service(settings: Settings, env: dict[str, str]) -> Service:
    """Return the local auth-service, which the API and the worker need before they start."""
    return Service(
        name="auth-service",
        argv=[sys.executable, "-m", "services.auth_service"],
        health=lambda: auth_service_serving(settings.auth_service_address),
        endpoints=[Endpoint("auth-service (gRPC)", settings.auth_service_address)],
        env=env,
    )
