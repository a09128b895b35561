"""Public entry points: build every snippet of a document, or write them to a folder."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from portal.snippets.errors import SnippetLintError
from portal.snippets.languages import LANGUAGES, Language
from portal.snippets.lint import Finding, lint_code
from portal.snippets.loader import Document
from portal.snippets.model import HttpRequest
from portal.snippets.operations import build_requests
from portal.snippets.render import render


@dataclass(frozen=True)
class Snippet:
    """One rendered, linted code sample.

    Attributes:
        operation_id: The operation's id in the document.
        language: Language key, such as `python` (see `LANGUAGES`).
        template_version: Version of the reviewed template that produced `code`.
        filename: Path of the snippet relative to its language folder.
        code: The snippet's source text.
        request: The request the snippet sends.
    """

    operation_id: str
    language: str
    template_version: int
    filename: str
    code: str
    request: HttpRequest

    @property
    def method(self) -> str:
        """Upper-case HTTP method of the operation."""
        return self.request.method

    @property
    def path(self) -> str:
        """Path template of the operation, such as `/v2/Services/{Sid}`."""
        return self.request.path_template


def lint_snippet(snippet: Snippet) -> list[Finding]:
    """Run the security linter over `snippet` with what its request requires."""
    return lint_code(
        snippet.language,
        snippet.code,
        url=snippet.request.url,
        env_vars=snippet.request.env_vars,
        secrets=snippet.request.redacted,
    )


def build_snippets(
    spec: str | Path | Document,
    *,
    languages: Iterable[str] | None = None,
    env_prefix: str | None = None,
) -> list[Snippet]:
    """Build one snippet per operation per language and lint each one.

    Args:
        spec: Path of an OpenAPI 3.x or Swagger 2.0 document (JSON or YAML), or
            a loaded `Document`.
        languages: Language keys to render; all of `LANGUAGES` by default.
        env_prefix: Prefix of the credential environment variables, such as
            `TWILIO`; by default the first word of the document title.

    Returns:
        Snippets ordered by operation (document order), then language.

    Raises:
        SpecError: If the document is invalid or would need an insecure snippet.
        SnippetLintError: If any snippet fails the security linter; none is returned then.
        KeyError: If a language key is unknown.
    """
    document = spec if isinstance(spec, Document) else Document.load(spec)
    chosen: list[Language] = [LANGUAGES[key] for key in (languages or LANGUAGES)]
    snippets: list[Snippet] = []
    failures: list[tuple[str, str, Finding]] = []
    for request in build_requests(document, env_prefix):
        for language in chosen:
            snippet = Snippet(
                operation_id=request.operation_id,
                language=language.key,
                template_version=language.version,
                filename=language.filename(request.name),
                code=render(request, language),
                request=request,
            )
            failures.extend((request.operation_id, language.key, f) for f in lint_snippet(snippet))
            snippets.append(snippet)
    if failures:
        lines = [f"{op} [{lang}] line {f.line}: {f.rule}: {f.message}" for op, lang, f in failures]
        raise SnippetLintError(
            f"{len(failures)} security finding(s) in snippets of {document.source}:\n"
            + "\n".join(lines),
            [finding for _, _, finding in failures],
        )
    return snippets


def write_snippets(
    spec: str | Path | Document,
    out_dir: str | Path,
    *,
    languages: Iterable[str] | None = None,
    env_prefix: str | None = None,
) -> list[Path]:
    """Build the snippets of `spec` and write them under `out_dir`.

    Each snippet goes to `out_dir/<language>/<filename>`; `out_dir/index.json`
    lists every file with its operation, language and template version.

    Returns:
        The paths written, `index.json` last.

    Raises:
        The errors of `build_snippets`; nothing is written when it raises.
    """
    snippets = build_snippets(spec, languages=languages, env_prefix=env_prefix)
    root = Path(out_dir)
    written: list[Path] = []
    index = []
    for snippet in snippets:
        target = root / snippet.language / snippet.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(snippet.code, encoding="utf-8")
        written.append(target)
        index.append(
            {
                "operation_id": snippet.operation_id,
                "method": snippet.method,
                "path": snippet.path,
                "language": snippet.language,
                "template_version": snippet.template_version,
                "file": f"{snippet.language}/{snippet.filename}",
            }
        )
    index_path = root / "index.json"
    index_path.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(index_path)
    return written
