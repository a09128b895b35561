"""A small, dependency-free client for the Verify API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from example_sms_verify._version import __version__

DEFAULT_BASE_URL = "https://api.example-sms.com"
CHANNELS = ("whatsapp", "sms", "voice")


class VerifyError(Exception):
    """The Verify API rejected a request; `status` and `problem` contain its response."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('title', 'error')}: {problem.get('detail', '')}")


class VerifyClient:
    """Start verifications and check one-time codes.

    Args:
        api_key: API key sent as a bearer token.
        base_url: Address of the API.
        timeout: Seconds to wait for each response.
    """

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0):
        if not api_key:
            raise ValueError("api_key is required")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    def start(self, phone_number: str, channel: str = "sms") -> dict[str, Any]:
        """Send a one-time code to `phone_number` (E.164) over `channel`."""
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        return self._request(
            "POST", "/v1/verify", {"phone_number": phone_number, "channel": channel}
        )

    def check(self, verification_id: str, code: str) -> dict[str, Any]:
        """Check the `code` the user entered for `verification_id`."""
        return self._request("POST", f"/v1/verify/{verification_id}/check", {"code": code})

    def _request(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self._base_url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
                "User-Agent": f"example-sms-verify-python/{__version__}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                problem = json.loads(exc.read() or b"{}")
            except ValueError:
                problem = {}
            raise VerifyError(exc.code, problem) from None
