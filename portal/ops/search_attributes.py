"""Check and register the portal's custom search attributes on a Temporal cluster.

`portal up` registers them on the local dev server at start-up; a
self-hosted production cluster gets them from `portal ops search-attributes
--register`, and Temporal Cloud from `tcld` (see docs/operations.md).
"""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from portal.temporal import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)


def indexed_value_type(kind: str) -> IndexedValueType.ValueType:
    """Return the protobuf enum value for a kind such as `Keyword`."""
    return IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")


async def registered_search_attributes(client: Client) -> dict[str, str]:
    """Return the namespace's custom search attributes and their kinds, e.g. `Keyword`."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return {
        name: IndexedValueType.Name(kind).removeprefix("INDEXED_VALUE_TYPE_").title()
        for name, kind in response.custom_attributes.items()
    }


async def missing_search_attributes(client: Client) -> dict[str, str]:
    """Return the portal's search attributes the namespace lacks, with their kinds."""
    registered = await registered_search_attributes(client)
    return {name: kind for name, kind in SEARCH_ATTRIBUTES.items() if name not in registered}


async def register_search_attributes(client: Client) -> dict[str, str]:
    """Register the portal's missing search attributes; return those it added."""
    missing = await missing_search_attributes(client)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    name: indexed_value_type(kind) for name, kind in missing.items()
                },
            )
        )
        log.info("registered search attributes names=%s", ",".join(sorted(missing)))
    return missing
