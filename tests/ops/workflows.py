"""Workflows that exist only for the on-call tests: one carries a phone number, one fails."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

# Faults the tests switch on and off; the worker runs in the test process.
FAULTS: dict[str, bool] = {"flaky_step": False}


class PhoneCheckInput(BaseModel):
    """Input of PhoneCheckWorkflow."""

    phone_number: str
    fail: bool = False


@activity.defn
async def normalise_number(phone_number: str) -> str:
    """Return the number without spaces, standing in for a carrier lookup."""
    return phone_number.replace(" ", "")


@activity.defn
async def flaky_step(attempt_label: str) -> str:
    """Fail while the test's fault is on, else succeed."""
    if FAULTS["flaky_step"]:
        raise ApplicationError(f"injected fault in {attempt_label}")
    return f"{attempt_label} done"


@activity.defn
async def always_failing_step() -> None:
    """Fail on every attempt, so the workflow retries until a test terminates it."""
    raise ApplicationError("downstream keeps failing")


@workflow.defn
class PhoneCheckWorkflow:
    """Carries a phone number through its input, an activity and its result or failure."""

    @workflow.run
    async def run(self, params: PhoneCheckInput) -> str:
        normalised = await workflow.execute_activity(
            normalise_number, params.phone_number, start_to_close_timeout=timedelta(seconds=5)
        )
        if params.fail:
            raise ApplicationError(f"cannot reach {normalised}", non_retryable=True)
        return normalised


@workflow.defn
class FlakyStepWorkflow:
    """Runs one activity that gives up after two attempts while its fault is on."""

    @workflow.run
    async def run(self, label: str) -> str:
        await workflow.sleep(timedelta(milliseconds=10))
        return await workflow.execute_activity(
            flaky_step,
            label,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=2
            ),
        )


@workflow.defn
class RetryingWorkflow:
    """Retries a failing activity without limit: stuck until someone steps in."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            always_failing_step,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0
            ),
        )


@workflow.defn
class WaitingWorkflow:
    """Waits for a condition that never holds, so only its execution timeout ends it."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class BrokenTaskWorkflow:
    """Raises a plain exception, which fails its workflow task again and again."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("bug in workflow code")


TEST_WORKFLOWS = [
    PhoneCheckWorkflow,
    FlakyStepWorkflow,
    RetryingWorkflow,
    WaitingWorkflow,
    BrokenTaskWorkflow,
]
TEST_ACTIVITIES = [normalise_number, flaky_step, always_failing_step]
