"""The language-neutral model of one sample HTTP request, which every template renders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvVar:
    """A value that the snippet reads from an environment variable at run time.

    Attributes:
        name: Variable name, always matching `[A-Z_][A-Z0-9_]*`.
    """

    name: str


Value = str | EnvVar
"""A request value: a literal string or a credential read from the environment."""


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic authentication with both parts read from the environment."""

    username: EnvVar
    password: EnvVar


@dataclass(frozen=True)
class BearerAuth:
    """An `Authorization: Bearer` token read from the environment."""

    token: EnvVar


Auth = BasicAuth | BearerAuth | None


@dataclass(frozen=True)
class FormBody:
    """An `application/x-www-form-urlencoded` body.

    Attributes:
        fields: Name and value pairs in the order they are sent; a name repeats
            for each item of an exploded array.
    """

    fields: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class JsonBody:
    """A JSON body.

    Attributes:
        value: The body as plain dicts, lists and scalars.
        text: The compact serialization every snippet sends byte for byte:
            `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`.
    """

    value: Any
    text: str

    @classmethod
    def of(cls, value: Any) -> JsonBody:
        """Build a body from `value`, computing its canonical text."""
        return cls(value, json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True)
class TextBody:
    """A body sent as the literal text of the document's example, such as XML or plain text."""

    text: str


Body = FormBody | JsonBody | TextBody | None


@dataclass(frozen=True)
class HttpRequest:
    """One sample request for one operation.

    Attributes:
        operation_id: The operation's `operationId` (or one derived from method and path).
        name: `operation_id` as an UpperCamelCase identifier, unique in the document.
        summary: One-line description of the operation.
        method: Upper-case HTTP method.
        path_template: The path as the document writes it, such as `/v2/Services/{Sid}`.
        base_url: `https://host[:port][/base path]`, without a trailing slash.
        path: The path with parameter values percent-encoded into it.
        query: Query parameters in the order they are sent.
        headers: Header fields other than `Authorization` and `Content-Type`.
        auth: How the snippet authenticates, if the operation needs it.
        content_type: Media type of `body`; None when there is no body.
        body: The request body.
        redacted: Example values of credentials that the document contains and
            that the snippet reads from the environment instead. The linter
            checks that none of them appears in a snippet.
    """

    operation_id: str
    name: str
    summary: str
    method: str
    path_template: str
    base_url: str
    path: str
    query: tuple[tuple[str, Value], ...] = ()
    headers: tuple[tuple[str, Value], ...] = ()
    auth: Auth = None
    content_type: str | None = None
    body: Body = None
    redacted: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        """The request URL without its query string."""
        return self.base_url + self.path

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Names of every environment variable the snippet reads, in first-use order."""
        names: list[str] = []
        values: list[Value] = [value for _, value in self.query + self.headers]
        if isinstance(self.body, FormBody):
            values.extend(value for _, value in self.body.fields)
        if isinstance(self.auth, BasicAuth):
            values.extend([self.auth.username, self.auth.password])
        elif isinstance(self.auth, BearerAuth):
            values.append(self.auth.token)
        for value in values:
            if isinstance(value, EnvVar) and value.name not in names:
                names.append(value.name)
        return tuple(names)
