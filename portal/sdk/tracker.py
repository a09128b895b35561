"""A client for the subset of the GitHub Issues REST API that release issues need.

The same code files issues on GitHub in production and in the local tracker
(`services/issue_tracker`) during development and tests. Only the base URL
and the token differ.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import BaseModel, Field

from portal.sdk.errors import TrackerRejectedError, TrackerUnavailableError

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
PAGE_SIZE = 100


class Issue(BaseModel):
    """The fields of a GitHub issue the portal reads."""

    number: int
    title: str
    body: str | None = None
    state: str
    state_reason: str | None = None
    html_url: str
    labels: list[str] = Field(default_factory=list)
    comments: int = 0
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Issue:
        """Build from a GitHub API issue object, whose labels are objects with a name."""
        labels = [label["name"] if isinstance(label, dict) else label for label in data["labels"]]
        return cls.model_validate({**data, "labels": labels})


class Comment(BaseModel):
    """The fields of an issue comment the portal reads."""

    id: int
    body: str


class IssueTracker:
    """GitHub Issues over REST for one repository.

    Args:
        base_url: API base, such as https://api.github.com or the local tracker.
        repository: OWNER/NAME.
        token: Sent as `Authorization: Bearer TOKEN`; never logged.
    """

    def __init__(self, base_url: str, repository: str, token: str) -> None:
        self.repository = repository
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/repos/{repository}",
            timeout=TIMEOUT,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "devportal-sdk-release",
            },
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TrackerUnavailableError(
                f"issue tracker unreachable: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TrackerUnavailableError(
                f"issue tracker returned {response.status_code} for {method} {path}"
            )
        if response.status_code >= 400:
            raise TrackerRejectedError(
                f"issue tracker rejected {method} {path} in {self.repository} with "
                f"{response.status_code}: {response.text[:300]}; check the token and repository"
            )
        return response.json() if response.content else None

    async def list_issues(
        self, *, state: str = "open", labels: list[str] | None = None
    ) -> list[Issue]:
        """Return issues (not pull requests) in `state` (open, closed, all) with every label."""
        params: dict[str, Any] = {"state": state, "per_page": PAGE_SIZE}
        if labels:
            params["labels"] = ",".join(labels)
        issues: list[Issue] = []
        page = 1
        while True:
            data = await self._request("GET", "/issues", params={**params, "page": page})
            issues += [Issue.from_api(item) for item in data if "pull_request" not in item]
            if len(data) < PAGE_SIZE:
                return issues
            page += 1

    async def get_issue(self, number: int) -> Issue:
        """Return issue `number`."""
        return Issue.from_api(await self._request("GET", f"/issues/{number}"))

    async def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        """Open an issue."""
        data = await self._request(
            "POST", "/issues", json={"title": title, "body": body, "labels": labels}
        )
        return Issue.from_api(data)

    async def update_issue(
        self, number: int, *, state: str | None = None, state_reason: str | None = None
    ) -> Issue:
        """Close or reopen issue `number`; `state_reason` is completed or not_planned."""
        payload = {
            key: value
            for key, value in {"state": state, "state_reason": state_reason}.items()
            if value
        }
        return Issue.from_api(await self._request("PATCH", f"/issues/{number}", json=payload))

    async def list_comments(self, number: int) -> list[Comment]:
        """Return every comment on issue `number`."""
        comments: list[Comment] = []
        page = 1
        while True:
            data = await self._request(
                "GET", f"/issues/{number}/comments", params={"per_page": PAGE_SIZE, "page": page}
            )
            comments += [Comment.model_validate(item) for item in data]
            if len(data) < PAGE_SIZE:
                return comments
            page += 1

    async def add_comment(self, number: int, body: str) -> Comment:
        """Comment on issue `number`."""
        return Comment.model_validate(
            await self._request("POST", f"/issues/{number}/comments", json={"body": body})
        )
