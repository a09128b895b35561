import uuid

import pytest

from portal.temporal import TaskQueue
from workflows.stack_check import StackCheckInput, StackCheckWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_stack_check_reaches_redis(temporal_client, portal_worker):
    result = await temporal_client.execute_workflow(
        StackCheckWorkflow.run,
        StackCheckInput(requested_by="test"),
        id=f"stack-check-{uuid.uuid4()}",
        task_queue=TaskQueue.OPS,
    )
    assert result.redis_ping_ms >= 0
