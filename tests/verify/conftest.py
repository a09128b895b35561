"""Fixtures of the Verify tests: API keys, the dispatch control plane, clean breakers.

Every test gets fresh phone numbers (`numbers`) so caps keyed on the
recipient never carry over between tests, and starts with every channel
healthy and every breaker closed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from temporalio.client import Client

from portal.auth_service_client import AuthServiceClient
from portal.keys.format import KeyEnvironment
from portal.settings import Settings
from portal.verify.breaker import BREAKER_PREFIX
from portal.verify.service import workflow_id
from portal.verify.store import SessionRecord, SessionStatus, SessionStore, new_session_id
from services.dispatch.admin_client import DispatchAdmin
from tests.harness.servers import ManagedProcess
from workflows.verify_session import VerifySessionResult, VerifySessionWorkflow

# Every code a test read from an inbox and every number a test used, for the
# leak search that runs after the other Verify tests.
SENT_CODES: set[str] = set()
USED_NUMBERS: set[str] = set()
CODE_PATTERN = re.compile(r"\b(\d(?: ?\d){5,9})\b")

# US numbers in the 201-555-01xx style are valid for phonenumbers and reserved
# for fiction; the counter spreads tests over distinct recipients.
_numbers = itertools.count(int(time.time()) % 5000 * 10)


def fresh_number() -> str:
    """Return a valid E.164 number no other test of this session uses."""
    serial = next(_numbers)
    area = 201 + (serial // 10_000) % 700
    while area % 100 == 11 or str(area)[1] == "9":
        area += 1
    number = f"+1{area}555{serial % 10_000:04d}"
    USED_NUMBERS.add(number)
    return number


def code_from(message: dict[str, Any]) -> str:
    """Return the code carried by an inbox message (Voice spells it with spaces)."""
    match = CODE_PATTERN.search(message["body"])
    assert match, f"no code in message {message['message_id']}"
    code = match.group(1).replace(" ", "")
    SENT_CODES.add(code)
    return code


@dataclass
class VerifyCaller:
    """An API key of a fresh tenant, and an HTTP client of the API that sends it."""

    tenant_id: str
    key_id: str
    secret: str
    http: httpx.AsyncClient
    started: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header of the key."""
        return {"Authorization": f"Bearer {self.secret}"}

    async def start(self, to: str, **fields: Any) -> httpx.Response:
        """POST /v1/verify/sessions."""
        response = await self.http.post(
            "/v1/verify/sessions", json={"to": to, **fields}, headers=self.headers
        )
        if response.status_code == 201:
            self.started.append(response.json()["id"])
        return response

    async def get(self, session_id: str) -> httpx.Response:
        """GET /v1/verify/sessions/{id}."""
        return await self.http.get(f"/v1/verify/sessions/{session_id}", headers=self.headers)

    async def check(self, session_id: str, code: str) -> httpx.Response:
        """POST /v1/verify/sessions/{id}/check."""
        return await self.http.post(
            f"/v1/verify/sessions/{session_id}/check", json={"code": code}, headers=self.headers
        )

    async def cancel(self, session_id: str) -> httpx.Response:
        """POST /v1/verify/sessions/{id}/cancel."""
        return await self.http.post(
            f"/v1/verify/sessions/{session_id}/cancel", headers=self.headers
        )

    async def wait_status(self, session_id: str, *statuses: str, wait_seconds: float = 20) -> dict:
        """Poll the session until its status is one of `statuses`; return its body."""
        deadline = time.monotonic() + wait_seconds
        while True:
            body = (await self.get(session_id)).json()
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {session_id} still {body['status']}: {body}")
            await asyncio.sleep(0.1)


async def session_result(client: Client, session_id: str) -> VerifySessionResult:
    """Wait for a session's workflow to finish and return its result."""
    handle = client.get_workflow_handle_for(VerifySessionWorkflow.run, workflow_id(session_id))
    return await asyncio.wait_for(handle.result(), 60)


async def stored_session(store: SessionStore, tenant_id: str = "tenant-core") -> str:
    """Store a pending session with no workflow behind it; return its id."""
    session_id = new_session_id()
    now = time.time()
    await store.create(
        SessionRecord(
            session_id=session_id,
            tenant_id=tenant_id,
            key_id="key-core",
            status=SessionStatus.PENDING,
            channels=["sms"],
            code_length=6,
            locale="en",
            created_at=now,
            expires_at=now + 600,
            attempts=0,
            max_attempts=5,
            masked_to="+1********00",
            recipient=uuid.uuid4().hex,
            number="1:unused",
        ),
        breaker_keys=[f"portal:verify:test-breaker:{uuid.uuid4().hex}"],
    )
    return session_id


async def create_api_key(settings: Settings, scopes: tuple[str, ...] = ("verify",)) -> tuple:
    """Create a test API key of a fresh tenant; return (tenant id, key id, secret)."""
    tenant_id = f"tenant-{uuid.uuid4().hex[:10]}"
    # Set-up is not under test, and a loaded machine may miss the 1 s deadline.
    patient = settings.model_copy(update={"auth_service_timeout_seconds": 10.0})
    async with AuthServiceClient(patient) as client:
        created = await client.create_key(
            tenant_id=tenant_id,
            name="verify tests",
            environment=KeyEnvironment.TEST,
            scopes=scopes,
            created_by="tests",
        )
    return tenant_id, created.key.key_id, created.secret


@pytest.fixture(scope="session", autouse=True)
def verify_log(session_dir: Path) -> Iterator[Path]:
    """Copy every log record of this process, from the first Verify test on, into a file."""
    path = session_dir / "verify-tests.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # httpx logs the tests' own inbox reads, whose URLs name the number; the
    # portal itself reaches dispatch over gRPC.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()


@pytest.fixture
def numbers() -> Iterator[callable]:
    """A factory of fresh phone numbers."""
    yield fresh_number


@pytest_asyncio.fixture(loop_scope="session")
async def dispatch_admin(dispatch_server: ManagedProcess) -> AsyncIterator[DispatchAdmin]:
    """The dispatch control plane, every channel healthy at the start of the test."""
    admin = DispatchAdmin(dispatch_server.admin_url)
    await admin.reset()
    yield admin
    await admin.reset()
    await admin.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def admin_redis(redis_server: ManagedProcess) -> AsyncIterator[Redis]:
    """A Redis client logged in as the admin ACL user."""
    client = Redis.from_url(redis_server.admin_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def closed_breakers(admin_redis: Redis) -> AsyncIterator[None]:
    """Close every channel breaker before and after the test."""

    async def reset() -> None:
        for channel in ("whatsapp", "sms", "voice"):
            await admin_redis.delete(f"{BREAKER_PREFIX}:{channel}")

    await reset()
    yield
    await reset()


@pytest_asyncio.fixture(loop_scope="session")
async def caller(
    portal_settings: Settings,
    api_client: httpx.AsyncClient,
    portal_worker: None,
    dispatch_admin: DispatchAdmin,
    closed_breakers: None,
) -> AsyncIterator[VerifyCaller]:
    """An API key of a fresh tenant with the verify scope, on a running API and worker."""
    tenant_id, key_id, secret = await create_api_key(portal_settings)
    caller = VerifyCaller(tenant_id, key_id, secret, api_client)
    yield caller
    # Sessions left pending would fall back after their channel timeout and
    # send during later tests.
    for session_id in caller.started:
        await caller.cancel(session_id)
