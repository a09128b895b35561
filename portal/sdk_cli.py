"""`portal sdk ...`: release the SDK in every language and finish partial releases."""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from portal.logging import configure_logging
from portal.settings import Settings

app = typer.Typer(
    name="sdk",
    help="SDK releases: publish a version to PyPI, npm, the Go module and Maven; "
    "retry or abandon a partial release; list its issues.",
    no_args_is_help=True,
)
T = TypeVar("T")
LANGUAGE_HELP = "Language (python, typescript, go, java); repeat for more. Default: all."


def _settings() -> Settings:
    from portal.cli import _settings as load
    from portal.stack import with_local_aws

    return with_local_aws(load())


def _requested_by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _languages(names: list[str] | None):
    from portal.sdk.languages import parse_languages

    try:
        return parse_languages(names) if names else None
    except ValueError as exc:
        typer.echo(f"invalid --language: {exc}", err=True)
        raise typer.Exit(2) from None


def _run(body: Callable[..., Awaitable[T]]) -> T:
    """Connect to Temporal, run `body(settings, client)`, and turn known errors into exits."""
    from portal import temporal
    from portal.errors import DependencyUnavailableError
    from portal.sdk.errors import SdkReleaseError
    from portal.sdk.releases import ReleaseNotFoundError, ReleaseStateError
    from portal.sdk.versions import InvalidVersionError, VersionTooLowError

    settings = _settings()
    configure_logging("WARNING")

    async def main() -> T:
        client = await temporal.connect(settings)
        return await body(settings, client)

    try:
        return asyncio.run(main())
    except (InvalidVersionError, VersionTooLowError) as exc:
        typer.echo(f"invalid version: {exc}", err=True)
        raise typer.Exit(2) from None
    except ReleaseNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(3) from None
    except ReleaseStateError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(4) from None
    except (DependencyUnavailableError, SdkReleaseError, RuntimeError) as exc:
        typer.echo(f"unavailable: {exc}; is `portal up` running?", err=True)
        raise typer.Exit(5) from None


def print_status(status) -> None:
    """Print a release's state and one line per language."""
    typer.echo(f"release {status.version}: {status.state} (round {status.rounds})")
    for language, entry in status.languages.items():
        line = f"  {language:<11} {entry.state:<10}"
        if entry.already_present:
            line += " already present"
        if entry.location:
            line += f" {entry.location}"
        if entry.error:
            line += f" [{entry.error_type}] {entry.error}"
        typer.echo(line)
    if status.issue:
        typer.echo(f"  issue #{status.issue.number}: {status.issue.url}")
    if status.reason:
        typer.echo(f"  reason: {status.reason}")


def _exit_for(status) -> None:
    from portal.sdk.models import ReleaseState

    raise typer.Exit(0 if status.state is ReleaseState.PUBLISHED else 1)


@app.command()
def release(
    version: str = typer.Argument(..., help="Version to publish, such as 1.4.0 or 1.5.0-rc.1."),
    language: list[str] = typer.Option(None, "--language", "-l", help=LANGUAGE_HELP),
    wait: bool = typer.Option(True, help="Wait until the release is published or partial."),
    timeout: float = typer.Option(900.0, help="Seconds to wait with --wait."),
) -> None:
    """Start the release of VERSION; exit 0 once every language is published."""
    from portal.sdk.models import ReleaseState
    from portal.sdk.releases import release_status, start_release

    languages = _languages(language)

    async def body(settings, client):
        status, started = await start_release(client, settings, version, _requested_by(), languages)
        typer.echo(f"{'started' if started else 'exists, nothing started'}: {status.workflow_id}")
        deadline = time.monotonic() + timeout
        while wait and status.state is ReleaseState.PUBLISHING and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            status = await release_status(client, settings, version)
        return status

    status = _run(body)
    print_status(status)
    _exit_for(status)


@app.command()
def status(version: str = typer.Argument(..., help="Release version.")) -> None:
    """Print the state of release VERSION and of each language."""
    from portal.sdk.releases import release_status

    result = _run(lambda settings, client: release_status(client, settings, version))
    print_status(result)


@app.command("list")
def list_command(
    state: str = typer.Option(
        None, help="Only releases in this state: publishing, partial, published, abandoned."
    ),
) -> None:
    """List recent SDK releases with their state, newest first."""
    from portal.sdk.models import ReleaseState
    from portal.sdk.releases import list_releases

    try:
        state_filter = ReleaseState(state) if state else None
    except ValueError:
        typer.echo(f"invalid --state {state!r}; use one of {', '.join(ReleaseState)}", err=True)
        raise typer.Exit(2) from None
    releases = _run(lambda settings, client: list_releases(client, state_filter))
    for entry in releases:
        started = entry.started_at.strftime("%Y-%m-%d %H:%M") if entry.started_at else "-"
        typer.echo(f"{entry.version:<16} {entry.state:<10} {started}  {entry.workflow_id}")
    if not releases:
        typer.echo("no SDK releases")


@app.command()
def retry(
    version: str = typer.Argument(..., help="Version of the partial release."),
    language: list[str] = typer.Option(None, "--language", "-l", help=LANGUAGE_HELP),
) -> None:
    """Publish the missing languages of a partial release again; exit 0 once published."""
    from portal.sdk.releases import retry_release

    languages = _languages(language)
    result = _run(
        lambda settings, client: retry_release(
            client, settings, version, _requested_by(), languages
        )
    )
    print_status(result)
    _exit_for(result)


@app.command()
def abandon(
    version: str = typer.Argument(..., help="Version of the partial release."),
    reason: str = typer.Option(..., help="Why the release is closed; goes into its issue."),
) -> None:
    """Close a partial release without its missing languages."""
    from portal.sdk.releases import abandon_release

    result = _run(
        lambda settings, client: abandon_release(client, settings, version, reason, _requested_by())
    )
    print_status(result)


@app.command()
def issues(
    state: str = typer.Option("open", help="Issues to list: open, closed or all."),
) -> None:
    """List the partial-release issues in the tracker."""
    from portal.sdk.errors import SdkReleaseError
    from portal.sdk.issues import PARTIAL_LABEL
    from portal.sdk.worker import build_tracker

    if state not in {"open", "closed", "all"}:
        typer.echo(f"invalid --state {state!r}; use open, closed or all", err=True)
        raise typer.Exit(2)
    settings = _settings()
    configure_logging("WARNING")

    async def main():
        tracker = build_tracker(settings)
        try:
            return await tracker.list_issues(state=state, labels=[PARTIAL_LABEL])
        finally:
            await tracker.aclose()

    try:
        found = asyncio.run(main())
    except SdkReleaseError as exc:
        typer.echo(f"issue tracker unavailable: {exc}", err=True)
        raise typer.Exit(5) from None
    for issue in found:
        typer.echo(f"#{issue.number:<5} {issue.state:<6} {issue.title}")
        typer.echo(f"       {issue.html_url}")
    if not found:
        typer.echo(
            f"no {state if state != 'all' else ''} partial-release issues".replace("  ", " ")
        )


@app.command()
def latest() -> None:
    """Print the latest release version each registry holds."""
    from portal.sdk.config import sdk_config
    from portal.sdk.errors import SdkReleaseError
    from portal.sdk.languages import Language
    from portal.sdk.publishers import build_publisher

    settings = _settings()
    configure_logging("WARNING")
    config = sdk_config(settings)

    async def read(language: Language) -> str:
        try:
            return await build_publisher(language, config).latest_version() or "-"
        except SdkReleaseError as exc:
            return f"unreachable: {exc}"

    async def main() -> list[str]:
        return await asyncio.gather(*(read(language) for language in Language))

    versions = asyncio.run(main())
    for language, version in zip(Language, versions, strict=True):
        typer.echo(f"{language:<11} {version}")
    if len({version for version in versions if not version.startswith("unreachable")}) > 1:
        typer.echo("the registries disagree: version skew")
        raise typer.Exit(1)
