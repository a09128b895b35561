"""The `portal snippets` commands."""

from __future__ import annotations

from pathlib import Path

import typer

from portal.snippets.errors import SnippetError
from portal.snippets.generator import write_snippets
from portal.snippets.languages import LANGUAGES

LANGUAGE_CHOICES = ", ".join(LANGUAGES)

snippets_app = typer.Typer(
    help="Generate code samples from OpenAPI and Swagger documents.", no_args_is_help=True
)


@snippets_app.callback()
def snippets() -> None:
    """Generate code samples from OpenAPI and Swagger documents."""


@snippets_app.command("build")
def build(
    spec: Path = typer.Argument(..., help="OpenAPI 3.x or Swagger 2.0 document, JSON or YAML."),
    out: Path = typer.Option(..., "--out", help="Folder to write the snippets and index.json to."),
    language: list[str] = typer.Option(
        None,
        "--language",
        "-l",
        help=f"Language to render; repeat for several. One of: {LANGUAGE_CHOICES}.",
    ),
    env_prefix: str = typer.Option(
        None,
        help="Prefix of the credential environment variables (default: first word of the title).",
    ),
) -> None:
    """Write one snippet per operation and language, after the security linter passed them all."""
    unknown = [key for key in language or [] if key not in LANGUAGES]
    if unknown:
        typer.echo(
            f"unknown language {', '.join(unknown)}; choose from {LANGUAGE_CHOICES}", err=True
        )
        raise typer.Exit(2)
    try:
        written = write_snippets(spec, out, languages=language or None, env_prefix=env_prefix)
    except SnippetError as exc:
        typer.echo(f"snippet generation failed for {spec}:\n{exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {len(written) - 1} snippets and {written[-1]}")
