"""Client of the local dispatch server's HTTP control plane, for tests, demos and benchmarks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


class DispatchAdmin:
    """Sets channel faults and reads inboxes of a local dispatch server.

    Args:
        base_url: Address of the control plane, such as http://127.0.0.1:50062.
    """

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=5.0)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def set_channel(self, channel: str, **behaviour: Any) -> dict[str, Any]:
        """Change a channel's behaviour (latency_ms, error_rate, outage, ...) and return it."""
        response = await self._http.put(f"/admin/channels/{channel}", json=behaviour)
        response.raise_for_status()
        return response.json()

    async def reset(self) -> None:
        """Restore every channel and forget every message."""
        (await self._http.post("/admin/reset")).raise_for_status()

    async def stats(self) -> dict[str, Any]:
        """Return request counts per channel, traffic class and outcome."""
        response = await self._http.get("/admin/stats")
        response.raise_for_status()
        return response.json()

    async def inbox(self, number: str) -> list[dict[str, Any]]:
        """Return the messages an E.164 number received, oldest first."""
        response = await self._http.get(f"/inbox/{number}")
        response.raise_for_status()
        return response.json()

    async def report(self, message_id: str, status: str, error_code: str = "") -> dict[str, Any]:
        """Write a message's delivery report (`delivered` or `failed`)."""
        response = await self._http.post(
            f"/messages/{message_id}/report", json={"status": status, "error_code": error_code}
        )
        response.raise_for_status()
        return response.json()

    async def wait_for_message(
        self, number: str, *, channel: str | None = None, count: int = 1, wait_seconds: float = 15.0
    ) -> dict[str, Any]:
        """Wait until `number` has received `count` messages (on `channel` if set); return the last.

        Raises:
            TimeoutError: naming the number and channel when none arrives in time.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = [
                message
                for message in await self.inbox(number)
                if channel is None or message["channel"] == channel
            ]
            if len(messages) >= count:
                return messages[count - 1]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{number} received {len(messages)} of {count} message(s) on "
                    f"{channel or 'any channel'} within {wait_seconds:.0f} s"
                )
            await asyncio.sleep(0.1)
