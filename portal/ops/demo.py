"""The `portal demo` step of operating the portal: encrypted histories, codec server, replay."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from typing import TYPE_CHECKING

from portal.codec import ENCODING
from portal.codec_server import codec_public_url
from portal.ops.local_stack import local_codec_token
from portal.stack import REPO_ROOT, child_environment, find_temporal_cli
from portal.temporal import TaskQueue

if TYPE_CHECKING:
    from portal.demo import DemoContext

DEMO_PHONE = "+14155550123"


async def _run(*argv: str, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}: {stderr.decode()[-500:]}")
    return stdout.decode()


def _payloads(node: object) -> list[dict]:
    if isinstance(node, dict):
        if "metadata" in node and "data" in node:
            return [node]
        return [found for value in node.values() for found in _payloads(value)]
    if isinstance(node, list):
        return [found for item in node for found in _payloads(item)]
    return []


def _describe_payloads(history_json: str) -> tuple[int, int, list[str]]:
    """Return (payloads, encrypted payloads, decoded texts) of a `workflow show` JSON dump."""
    payloads = _payloads(json.loads(history_json))
    encoding = ENCODING.decode()
    encrypted = 0
    texts = []
    for payload in payloads:
        if base64.b64decode(payload["metadata"].get("encoding", "")).decode() == encoding:
            encrypted += 1
        else:
            texts.append(base64.b64decode(payload.get("data", "")).decode(errors="replace"))
    return len(payloads), encrypted, texts


async def encrypted_history_step(ctx: DemoContext) -> None:
    """Show a history as ciphertext to the plain CLI and as plaintext through the codec server.

    Then replay it with `portal ops replay` against the checked-out code.
    """
    from workflows.stack_check import StackCheckInput, StackCheckWorkflow

    settings = ctx.settings
    workflow_id = f"stack-check-encrypted-{uuid.uuid4().hex[:8]}"
    await ctx.temporal.execute_workflow(
        StackCheckWorkflow.run,
        StackCheckInput(requested_by=f"DevRel demo caller {DEMO_PHONE}"),
        id=workflow_id,
        task_queue=TaskQueue.OPS,
        static_summary="portal demo: a workflow input carrying a phone number",
        static_details="The Temporal UI shows ciphertext unless signed in to the codec server.",
    )
    ctx.echo(f"started {workflow_id} with a phone number in its input")

    show = [
        find_temporal_cli(),
        "workflow",
        "show",
        "--address",
        settings.temporal_address,
        "--namespace",
        settings.temporal_namespace,
        "--workflow-id",
        workflow_id,
        "--output",
        "json",
    ]
    plain_view = await _run(*show)
    total, encrypted, _ = _describe_payloads(plain_view)
    visible = DEMO_PHONE in plain_view
    ctx.echo(
        f"temporal workflow show (no codec): {encrypted} of {total} payloads are "
        f"binary/encrypted; the number is {'VISIBLE' if visible else 'not visible'}"
    )
    if visible:
        raise AssertionError("the plain Temporal CLI shows the phone number")

    endpoint = codec_public_url(settings)
    token = local_codec_token(settings)
    decoded_view = await _run(
        *show, "--codec-endpoint", endpoint, "--codec-auth", f"Bearer {token}"
    )
    _, still_encrypted, texts = _describe_payloads(decoded_view)
    with_number = [text for text in texts if DEMO_PHONE in text]
    ctx.echo(
        f"temporal workflow show --codec-endpoint {endpoint}: {still_encrypted} payloads "
        f"left encrypted; the input reads {with_number[0] if with_number else '(not found)'}"
    )
    if not with_number:
        raise AssertionError("the codec server did not decrypt the workflow input")

    replay = await _run(
        sys.executable,
        "-m",
        "portal",
        "ops",
        "replay",
        workflow_id,
        env=child_environment(settings),
    )
    ctx.echo(f"portal ops replay {workflow_id}: {replay.strip()}")
    if not replay.startswith("deterministic"):
        raise AssertionError("the finished workflow did not replay deterministically")
    token_source = (
        "PORTAL_CODEC_AUTH_TOKEN"
        if settings.codec_auth_token is not None
        else str(settings.state_dir / "codec-token")
    )
    ctx.echo(
        f"in the Temporal UI ({ctx.temporal_ui_link(workflow_id)}) payloads stay encrypted "
        f"until you sign in at {endpoint}/login with the token from {token_source}"
    )
