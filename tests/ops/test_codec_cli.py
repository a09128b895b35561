"""The Temporal CLI shows ciphertext without the codec server and plaintext through it."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator

import pytest
from temporalio.client import Client, WorkflowFailureError

from portal.settings import Settings
from tests.harness.servers import ManagedProcess, temporal_cli
from tests.ops.conftest import CODEC_TOKEN
from tests.ops.workflows import PhoneCheckInput, PhoneCheckWorkflow

PHONE = "+14155550123"


async def show_history(address: str, workflow_id: str, *codec_args: str) -> dict:
    """Return `temporal workflow show --output json` for `workflow_id`, parsed."""
    cli = temporal_cli()
    if cli is None:
        pytest.fail("the temporal CLI is missing, yet the dev server started from it")
    process = await asyncio.create_subprocess_exec(
        cli,
        "workflow",
        "show",
        "--address",
        address,
        "--workflow-id",
        workflow_id,
        "--output",
        "json",
        *codec_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert PHONE not in text or codec_args, "plaintext number in the CLI's raw output"
    return json.loads(text)


def payloads_of(node: object) -> Iterator[dict]:
    """Yield every payload (a dict with `metadata` and `data`) inside a JSON history."""
    if isinstance(node, dict):
        if "metadata" in node and "data" in node:
            yield node
            return
        for value in node.values():
            yield from payloads_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from payloads_of(item)


def encoding_of(payload: dict) -> str:
    return base64.b64decode(payload["metadata"].get("encoding", "")).decode()


def failure_of(history: dict) -> dict:
    closing = history["events"][-1]
    return closing["workflowExecutionFailedEventAttributes"]["failure"]


async def run_phone_check(client: Client, task_queue: str, fail: bool) -> str:
    workflow_id = f"phone-check-{uuid.uuid4().hex[:8]}"
    run = client.execute_workflow(
        PhoneCheckWorkflow.run,
        PhoneCheckInput(phone_number=PHONE, fail=fail),
        id=workflow_id,
        task_queue=task_queue,
        static_summary="ops test: a phone number in the input and the failure",
    )
    if fail:
        with pytest.raises(WorkflowFailureError):
            await run
    else:
        assert await run == PHONE
    return workflow_id


async def test_cli_without_codec_shows_ciphertext(
    ops_client: Client, ops_task_queue: str, ops_settings: Settings
):
    workflow_id = await run_phone_check(ops_client, ops_task_queue, fail=True)

    history = await show_history(ops_settings.temporal_address, workflow_id)

    payloads = list(payloads_of(history))
    assert payloads, "the history carries no payloads at all"
    assert {encoding_of(payload) for payload in payloads} == {"binary/encrypted"}
    for payload in payloads:
        assert PHONE.encode() not in base64.b64decode(payload["data"])
    failure = failure_of(history)
    assert failure["message"] == "Encoded failure"
    assert PHONE not in json.dumps(failure)


async def test_cli_through_codec_shows_number(
    ops_client: Client,
    ops_task_queue: str,
    ops_settings: Settings,
    codec_server: ManagedProcess,
):
    workflow_id = await run_phone_check(ops_client, ops_task_queue, fail=True)

    history = await show_history(
        ops_settings.temporal_address,
        workflow_id,
        "--codec-endpoint",
        codec_server.url,  # type: ignore[attr-defined]
        "--codec-auth",
        f"Bearer {CODEC_TOKEN}",
    )

    payloads = list(payloads_of(history))
    assert "binary/encrypted" not in {encoding_of(payload) for payload in payloads}
    plaintexts = [base64.b64decode(payload["data"]).decode() for payload in payloads]
    assert any(PHONE in text for text in plaintexts)
    encoded_attributes = failure_of(history)["encodedAttributes"]
    assert f"cannot reach {PHONE}" in base64.b64decode(encoded_attributes["data"]).decode()


async def test_cli_with_wrong_token_gets_no_plaintext(
    ops_client: Client,
    ops_task_queue: str,
    ops_settings: Settings,
    codec_server: ManagedProcess,
):
    workflow_id = await run_phone_check(ops_client, ops_task_queue, fail=False)
    cli = temporal_cli()
    assert cli is not None

    process = await asyncio.create_subprocess_exec(
        cli,
        "workflow",
        "show",
        "--address",
        ops_settings.temporal_address,
        "--workflow-id",
        workflow_id,
        "--output",
        "json",
        "--codec-endpoint",
        codec_server.url,  # type: ignore[attr-defined]
        "--codec-auth",
        "Bearer not-the-token",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode != 0 or PHONE not in stdout.decode()
    assert PHONE not in stderr.decode()
