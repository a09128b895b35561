"""The local issue tracker: GitHub Issues REST endpoints backed by a JSON file.

It serves what `portal.sdk.tracker.IssueTracker` calls (list, create, read,
update issues, list and add comments) with GitHub's paths, fields, label
filter and error shapes, so the portal's client runs unchanged against it.
Every write is saved to the data file before the response, so issues
survive a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100


class TrackerError(Exception):
    """An error returned in GitHub's shape: `{"message": ...}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NewIssue(BaseModel):
    """Body of POST /repos/{owner}/{repo}/issues."""

    title: str = Field(min_length=1, max_length=256)
    body: str | None = Field(None, max_length=65536)
    labels: list[str] = Field(default_factory=list, max_length=100)


class IssueUpdate(BaseModel):
    """Body of PATCH /repos/{owner}/{repo}/issues/{number}."""

    title: str | None = Field(None, min_length=1, max_length=256)
    body: str | None = Field(None, max_length=65536)
    state: Literal["open", "closed"] | None = None
    state_reason: Literal["completed", "not_planned", "reopened"] | None = None
    labels: list[str] | None = None


class NewComment(BaseModel):
    """Body of POST /repos/{owner}/{repo}/issues/{number}/comments."""

    body: str = Field(min_length=1, max_length=65536)


class Faults(BaseModel):
    """Faults the tracker injects, for tests of the client's idempotency."""

    lose_create_responses: int = Field(
        0,
        ge=0,
        le=100,
        description="Create the next N issues but respond 502, as if the response was lost.",
    )


class IssueStore:
    """Issues and comments per repository, saved to a JSON file after each write."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()
        self._data: dict[str, Any] = {"repositories": {}}
        if path.exists():
            self._data = json.loads(path.read_text())

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._data, indent=1))
        os.replace(temporary, self._path)

    def _repository(self, name: str) -> dict[str, Any]:
        return self._data["repositories"].setdefault(name, {"next_number": 1, "issues": []})

    def issues(self, repository: str) -> list[dict[str, Any]]:
        """Return the issues of `repository`, newest first."""
        return sorted(
            self._repository(repository)["issues"], key=lambda item: item["number"], reverse=True
        )

    def issue(self, repository: str, number: int) -> dict[str, Any]:
        """Return issue `number` or raise a 404 TrackerError."""
        for item in self._repository(repository)["issues"]:
            if item["number"] == number:
                return item
        raise TrackerError(404, "Not Found")

    async def create(self, repository: str, issue: NewIssue, base_url: str) -> dict[str, Any]:
        """Add an issue and return it."""
        async with self._lock:
            repo = self._repository(repository)
            number = repo["next_number"]
            repo["next_number"] = number + 1
            now = _now()
            item = {
                "id": secrets.randbits(40),
                "number": number,
                "title": issue.title,
                "body": issue.body,
                "state": "open",
                "state_reason": None,
                "labels": [{"name": label} for label in dict.fromkeys(issue.labels)],
                "comments": 0,
                "comment_list": [],
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
                "html_url": f"{base_url}{repository}/issues/{number}",
            }
            repo["issues"].append(item)
            self._save()
        return item

    async def update(self, repository: str, number: int, change: IssueUpdate) -> dict[str, Any]:
        """Apply `change` to issue `number` and return it."""
        async with self._lock:
            item = self.issue(repository, number)
            if change.title is not None:
                item["title"] = change.title
            if change.body is not None:
                item["body"] = change.body
            if change.labels is not None:
                item["labels"] = [{"name": label} for label in dict.fromkeys(change.labels)]
            if change.state == "closed" and item["state"] != "closed":
                item["state"] = "closed"
                item["closed_at"] = _now()
                item["state_reason"] = change.state_reason or "completed"
            elif change.state == "open" and item["state"] != "open":
                item["state"] = "open"
                item["closed_at"] = None
                item["state_reason"] = "reopened"
            item["updated_at"] = _now()
            self._save()
        return item

    async def comment(self, repository: str, number: int, body: str) -> dict[str, Any]:
        """Add a comment to issue `number` and return it."""
        async with self._lock:
            item = self.issue(repository, number)
            comment = {"id": secrets.randbits(40), "body": body, "created_at": _now()}
            item["comment_list"].append(comment)
            item["comments"] = len(item["comment_list"])
            item["updated_at"] = _now()
            self._save()
        return comment


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "comment_list"}


def create_app(data_file: Path, token: str) -> FastAPI:
    """Build the tracker app storing issues in `data_file` and accepting `token`."""
    app = FastAPI(title="Local issue tracker (GitHub Issues REST subset)", docs_url=None)
    store = IssueStore(data_file)
    faults = Faults()

    @app.exception_handler(TrackerError)
    async def _on_error(request: Request, exc: TrackerError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(part) for part in error["loc"][1:]), "message": error["msg"]}
            for error in exc.errors()
        ]
        return JSONResponse({"message": "Validation Failed", "errors": errors}, status_code=422)

    def authorized(authorization: str | None = Header(None)) -> None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() not in {"bearer", "token"} or not secrets.compare_digest(
            value.encode(), token.encode()
        ):
            raise TrackerError(401, "Bad credentials")

    def repository_of(owner: str, repo: str) -> str:
        return f"{owner}/{repo}"

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/repos/{owner}/{repo}/issues", dependencies=[Depends(authorized)])
    async def list_issues(
        owner: str,
        repo: str,
        state: Literal["open", "closed", "all"] = "open",
        labels: str | None = None,
        per_page: int = 30,
        page: int = 1,
    ) -> list[dict[str, Any]]:
        required = {label.strip() for label in (labels or "").split(",") if label.strip()}
        matching = [
            _public(item)
            for item in store.issues(repository_of(owner, repo))
            if (state == "all" or item["state"] == state)
            and required <= {label["name"] for label in item["labels"]}
        ]
        size = max(1, min(per_page, MAX_PAGE_SIZE))
        start = (max(page, 1) - 1) * size
        return matching[start : start + size]

    @app.post("/repos/{owner}/{repo}/issues", status_code=201, dependencies=[Depends(authorized)])
    async def create_issue(
        owner: str, repo: str, issue: NewIssue, request: Request
    ) -> dict[str, Any]:
        item = await store.create(repository_of(owner, repo), issue, str(request.base_url))
        log.info("issue created repository=%s/%s number=%d", owner, repo, item["number"])
        if faults.lose_create_responses > 0:
            faults.lose_create_responses -= 1
            log.warning("responding 502 for a stored issue, as injected number=%d", item["number"])
            raise TrackerError(502, "Bad Gateway (injected fault: the issue was created)")
        return _public(item)

    @app.get("/repos/{owner}/{repo}/issues/{number}", dependencies=[Depends(authorized)])
    async def get_issue(owner: str, repo: str, number: int) -> dict[str, Any]:
        return _public(store.issue(repository_of(owner, repo), number))

    @app.patch("/repos/{owner}/{repo}/issues/{number}", dependencies=[Depends(authorized)])
    async def update_issue(
        owner: str, repo: str, number: int, change: IssueUpdate
    ) -> dict[str, Any]:
        item = await store.update(repository_of(owner, repo), number, change)
        log.info(
            "issue updated repository=%s/%s number=%d state=%s", owner, repo, number, item["state"]
        )
        return _public(item)

    @app.get("/repos/{owner}/{repo}/issues/{number}/comments", dependencies=[Depends(authorized)])
    async def list_comments(
        owner: str, repo: str, number: int, per_page: int = 30, page: int = 1
    ) -> list[dict[str, Any]]:
        comments = store.issue(repository_of(owner, repo), number)["comment_list"]
        size = max(1, min(per_page, MAX_PAGE_SIZE))
        start = (max(page, 1) - 1) * size
        return comments[start : start + size]

    @app.post(
        "/repos/{owner}/{repo}/issues/{number}/comments",
        status_code=201,
        dependencies=[Depends(authorized)],
    )
    async def add_comment(
        owner: str, repo: str, number: int, comment: NewComment
    ) -> dict[str, Any]:
        return await store.comment(repository_of(owner, repo), number, comment.body)

    @app.get("/{owner}/{repo}/issues/{number}", response_class=PlainTextResponse)
    async def show_issue(owner: str, repo: str, number: int) -> str:
        item = store.issue(repository_of(owner, repo), number)
        comments = "\n\n---\n".join(comment["body"] for comment in item["comment_list"])
        header = f"#{number} [{item['state']}] {item['title']}"
        return f"{header}\n\n{item['body'] or ''}\n\n---\n{comments}"

    @app.get("/_admin/faults", dependencies=[Depends(authorized)])
    async def read_faults() -> Faults:
        return faults

    @app.put("/_admin/faults", dependencies=[Depends(authorized)])
    async def set_faults(update: Faults) -> Faults:
        faults.lose_create_responses = update.lose_create_responses
        log.warning("faults set lose_create_responses=%d", faults.lose_create_responses)
        return faults

    return app
