"""`portal demo`: an end-to-end tour of the running local stack.

Each capability of the portal adds one step to `STEPS`. A step talks to the
stack that `portal up` started, the way a user would: through the HTTP API,
the CLI's own commands and Temporal.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from temporalio.client import Client

from api.web.demo import web_pages_demo
from portal import temporal
from portal.docs_site.demo import docs_release_demo
from portal.keys.demo import api_keys_demo
from portal.ops.demo import encrypted_history_step
from portal.sdk.demo import sdk_release_demo
from portal.settings import Settings
from portal.verify.demo import verify_demo


@dataclass
class DemoContext:
    """Resources every demo step may use: settings, an HTTP client on the API, Temporal."""

    settings: Settings
    http: httpx.AsyncClient
    temporal: Client
    echo: Callable[[str], None]
    shared: dict[str, object] = field(default_factory=dict)

    def temporal_ui_link(self, workflow_id: str) -> str:
        """Return the Temporal UI address of a workflow."""
        host = self.settings.temporal_host
        port = self.settings.temporal_ui_port
        namespace = self.settings.temporal_namespace
        return f"http://{host}:{port}/namespaces/{namespace}/workflows/{workflow_id}"


@dataclass
class DemoStep:
    """One step of the tour."""

    title: str
    run: Callable[[DemoContext], Awaitable[None]]


async def _stack_check(ctx: DemoContext) -> None:
    from workflows.stack_check import StackCheckInput, StackCheckWorkflow

    ready = await ctx.http.get("/readyz")
    ctx.echo(f"GET /readyz -> {ready.status_code} {ready.text}")
    ready.raise_for_status()

    workflow_id = f"stack-check-{uuid.uuid4().hex[:8]}"
    result = await ctx.temporal.execute_workflow(
        StackCheckWorkflow.run,
        StackCheckInput(requested_by="portal demo"),
        id=workflow_id,
        task_queue=temporal.TaskQueue.OPS,
        static_summary="portal demo: stack check through the worker and Redis",
    )
    ctx.echo(f"StackCheckWorkflow reached Redis in {result.redis_ping_ms:.1f} ms")
    ctx.echo(f"see it in the Temporal UI: {ctx.temporal_ui_link(workflow_id)}")


STEPS: list[DemoStep] = [
    DemoStep("Stack check: API ready, a workflow round trip through the worker", _stack_check),
    DemoStep("API keys: sign in, create, reveal once, revoke durably", api_keys_demo),
    DemoStep("Verify: a code from the local inbox, then WhatsApp down, SMS instead", verify_demo),
    DemoStep("Docs release: publish behind the CDN, prove the edge fresh", docs_release_demo),
    DemoStep("SDK release: publish every language, read each registry back", sdk_release_demo),
    DemoStep(
        "Operations: ciphertext in the plain CLI, plaintext through the codec, replay",
        encrypted_history_step,
    ),
    DemoStep("Web pages: where they are, served with CSP, no-store and CSRF", web_pages_demo),
]


async def run_demo(settings: Settings, echo: Callable[[str], None], only: str | None = None) -> int:
    """Run every step (or those whose title contains `only`); return the number that failed."""
    from portal.stack import with_local_aws

    # Like the stack's processes, the demo encrypts payloads with the local KMS.
    settings = with_local_aws(settings)
    client = await temporal.connect(settings)
    base_url = f"http://{settings.host}:{settings.api_port}"
    failures = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        ctx = DemoContext(settings=settings, http=http, temporal=client, echo=echo)
        steps = [step for step in STEPS if only is None or only.lower() in step.title.lower()]
        for number, step in enumerate(steps, start=1):
            echo(f"\n[{number}/{len(steps)}] {step.title}")
            try:
                await step.run(ctx)
            except Exception as exc:  # noqa: BLE001 - report the step and go on with the tour
                failures += 1
                echo(f"  step failed: {type(exc).__name__}: {exc}")
    echo(f"\ndemo finished: {len(steps) - failures} of {len(steps)} steps passed")
    return failures
