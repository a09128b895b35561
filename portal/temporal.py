"""Temporal connection, data converter, task queues and custom search attributes."""

from __future__ import annotations

import dataclasses
import logging
from enum import StrEnum

from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from portal.codec import build_codec
from portal.settings import Settings

log = logging.getLogger(__name__)


class TaskQueue(StrEnum):
    """Task queues of the portal, one per area, so a backlog in one never starves another."""

    KEYS = "portal-keys"
    VERIFY = "portal-verify"
    DOCS = "portal-docs"
    SDK = "portal-sdk"
    OPS = "portal-ops"


# Custom search attributes. Values are identifiers and states, never personal
# data: phone numbers and secrets must not appear here.
SA_TENANT = SearchAttributeKey.for_keyword("PortalTenant")
SA_KEY_ID = SearchAttributeKey.for_keyword("PortalKeyId")
SA_SESSION_STATUS = SearchAttributeKey.for_keyword("PortalSessionStatus")
SA_RELEASE_VERSION = SearchAttributeKey.for_keyword("PortalReleaseVersion")
SA_RELEASE_STATE = SearchAttributeKey.for_keyword("PortalReleaseState")
SA_EDGE_STATE = SearchAttributeKey.for_keyword("PortalEdgeState")

# Every custom search attribute of the portal, registered on each server it uses.
SEARCH_ATTRIBUTE_KEYS: tuple[SearchAttributeKey, ...] = (
    SA_TENANT,
    SA_KEY_ID,
    SA_SESSION_STATUS,
    SA_RELEASE_VERSION,
    SA_RELEASE_STATE,
    SA_EDGE_STATE,
)
# Type names as the CLI's `--search-attribute NAME=TYPE` spells them; a key of
# another type needs its name added here first.
_TYPE_NAMES = {SearchAttributeIndexedValueType.KEYWORD: "Keyword"}
SEARCH_ATTRIBUTES: dict[str, str] = {
    key.name: _TYPE_NAMES[key.indexed_value_type] for key in SEARCH_ATTRIBUTE_KEYS
}


def build_data_converter(settings: Settings) -> DataConverter:
    """Build the converter every client, worker and replayer of the portal must share.

    Pydantic models travel as JSON, encrypted by the KMS payload codec
    (`portal.codec`); failure messages and stack traces are encrypted too.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=build_codec(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def build_runtime(sdk_metrics_bind: str | None) -> Runtime | None:
    """Return a runtime exporting SDK metrics to Prometheus on `sdk_metrics_bind`, if set."""
    if not sdk_metrics_bind:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=sdk_metrics_bind))
    )


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """Connect to the Temporal frontend named in `settings`.

    Args:
        settings: Portal settings.
        lazy: Defer the connection to the first call, so a process can start
            (and report itself unready) while Temporal is still down.
        runtime: Runtime carrying telemetry; the default runtime when None.
    """
    log.info(
        "connecting to Temporal address=%s namespace=%s lazy=%s",
        settings.temporal_address,
        settings.temporal_namespace,
        lazy,
    )
    kwargs: dict = {}
    if runtime is not None:
        kwargs["runtime"] = runtime
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=build_data_converter(settings),
        tls=settings.temporal_tls,
        api_key=settings.temporal_api_key,
        lazy=lazy,
        **kwargs,
    )


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> bool:
    """Create schedule `schedule_id`, or replace its spec and action when they differ.

    Every worker calls this at start-up, so the first one creates the
    schedule and later ones only align it with their settings.

    Returns:
        True when the schedule was created or changed, False when it already matched.
    """
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created schedule_id=%s", schedule_id)
        return True
    except ScheduleAlreadyRunningError:
        pass

    changed = False

    def align(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        if current.description.schedule.spec.intervals == schedule.spec.intervals:
            return None
        changed = True
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(align)
    if changed:
        log.info("schedule updated schedule_id=%s", schedule_id)
    return changed
