"""Code samples for each API operation in curl, Python, JavaScript, Go, Java and C#.

Samples are rendered only from the reviewed templates in `templates/`, with
every value escaped for its language, and each one passes the security linter
before it is returned.
"""

from portal.snippets.errors import (
    InsecureSpecError,
    SnippetError,
    SnippetLintError,
    SpecError,
    UnescapedValueError,
)
from portal.snippets.generator import Snippet, build_snippets, lint_snippet, write_snippets
from portal.snippets.languages import LANGUAGES, Language
from portal.snippets.loader import Document

__all__ = [
    "LANGUAGES",
    "Document",
    "InsecureSpecError",
    "Language",
    "Snippet",
    "SnippetError",
    "SnippetLintError",
    "SpecError",
    "UnescapedValueError",
    "build_snippets",
    "lint_snippet",
    "write_snippets",
]
