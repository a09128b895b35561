"""Exceptions raised while turning an API description into code snippets."""

from __future__ import annotations


class SnippetError(Exception):
    """Base class of every error the snippet generator raises."""


class SpecError(SnippetError):
    """The API description is invalid or uses a feature the generator rejects.

    The message names the document location (JSON pointer or operation) and the
    value at fault, so the author of the document can fix it.
    """


class InsecureSpecError(SpecError):
    """The API description would produce an insecure snippet, such as an `http` server."""


class UnescapedValueError(SnippetError):
    """A template printed a value without passing it through its language's escaping filter."""


class SnippetLintError(SnippetError):
    """A rendered snippet failed the security linter.

    Attributes:
        findings: Every finding of the linter for the rejected snippets.
    """

    def __init__(self, message: str, findings: list) -> None:
        super().__init__(message)
        self.findings = findings
