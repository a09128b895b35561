"""Errors as `application/problem+json` (RFC 9457).

Every error the API returns goes through here, so clients see one shape:
`type`, `title`, `status`, `detail` and, for bad input, `errors` naming each
field and how to fix it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://developer.example.com/problems/"


class Problem(Exception):
    """An error the API reports as a problem document.

    Args:
        status: HTTP status code.
        title: Short, stable summary of the problem type.
        detail: What went wrong with this request and what to do next.
        type_: Last part of the problem type URI.
        headers: Extra response headers, such as `Retry-After`.
        extra: Extension members added to the body.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = PROBLEM_BASE + (type_ or title.lower().replace(" ", "-"))
        self.headers = headers or {}
        self.extra = extra


class DependencyUnavailable(Problem):
    """A dependency is down: a fast 503 with `Retry-After`, never a hang or a 500."""

    def __init__(self, dependency: str, retry_after: int = 5, detail: str | None = None) -> None:
        super().__init__(
            503,
            "Dependency unavailable",
            detail or f"{dependency} is unavailable; retry in {retry_after} seconds.",
            type_="dependency-unavailable",
            headers={"Retry-After": str(retry_after)},
            dependency=dependency,
            retry_after=retry_after,
        )


def problem_response(problem: Problem) -> JSONResponse:
    """Render `problem` as a response."""
    body = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    # FastAPI prefixes the location with "body", "query", "path" or "header".
    parts = [str(part) for part in loc[1:]] if len(loc) > 1 else [str(part) for part in loc]
    return ".".join(parts)


def _error_entry(error: dict[str, Any]) -> dict[str, str]:
    loc = tuple(error["loc"])
    if error["type"] == "json_invalid":
        # FastAPI puts the character offset of a JSON syntax error where a field
        # name would be, so name the body and give the offset in the message.
        reason = error.get("ctx", {}).get("error", "syntax error")
        return {
            "field": "body",
            "in": "body",
            "message": f"is not valid JSON ({reason} at character {loc[-1]}); send a JSON "
            "object with Content-Type: application/json",
        }
    return {"field": _field_name(loc), "in": str(loc[0]), "message": error["msg"]}


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_error_entry(error) for error in exc.errors()]
    named = ", ".join(error["field"] for error in errors)
    return problem_response(
        Problem(
            400,
            "Invalid request",
            f"Invalid value for {named}. See `errors` for each field and the value it expects.",
            type_="invalid-request",
            errors=errors,
        )
    )


async def _on_problem(request: Request, exc: Problem) -> JSONResponse:
    if exc.status >= 500:
        log.warning(
            "request failed path=%s status=%d detail=%s", request.url.path, exc.status, exc.detail
        )
    return problem_response(exc)


async def _on_dependency_error(request: Request, exc: DependencyUnavailableError) -> JSONResponse:
    log.warning(
        "dependency unavailable path=%s dependency=%s reason=%s",
        request.url.path,
        exc.dependency,
        exc.reason,
    )
    return problem_response(DependencyUnavailable(exc.dependency, exc.retry_after))


async def _on_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    return problem_response(
        Problem(exc.status_code, title, str(exc.detail), headers=dict(exc.headers or {}))
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error path=%s", request.url.path)
    return problem_response(
        Problem(500, "Internal error", "The portal failed to handle this request; it was logged.")
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error of `app` through the problem document format."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DependencyUnavailableError, _on_dependency_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
