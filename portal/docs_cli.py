"""`portal docs ...`: build, publish, purge and check the docs site behind the CDN."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import typer

from portal.logging import configure_logging
from portal.settings import Settings

app = typer.Typer(
    name="docs",
    help="Docs releases behind the CDN: build, publish, purge, check the edge.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    """Load settings; in the local environment AWS is the stack's moto, as for `portal up`."""
    from portal.cli import _settings as load
    from portal.stack import MOTO_CREDENTIALS

    settings = load()
    if settings.environment == "local" and settings.aws_endpoint_url is None:
        moto_url = f"http://{settings.host}:{settings.moto_port}"
        settings = settings.model_copy(update={"aws_endpoint_url": moto_url})
        for name, value in MOTO_CREDENTIALS.items():
            os.environ.setdefault(name, value)
    return settings


def _ui_link(settings: Settings, workflow_id: str) -> str:
    return (
        f"http://{settings.temporal_host}:{settings.temporal_ui_port}/namespaces/"
        f"{settings.temporal_namespace}/workflows/{workflow_id}"
    )


@app.command()
def build(
    release: str = typer.Option(..., help="Release id written into the pages and the manifest."),
    spec: list[Path] = typer.Option(..., help="OpenAPI document to render; repeat for more."),
    out: Path = typer.Option(..., help="Folder to write the site to; replaced if it exists."),
) -> None:
    """Build a release's site locally, without uploading it, and print its manifest hash."""
    from portal.docs_site import DocsBuildError, build_site
    from portal.docs_site.config import renderer_path

    settings = _settings()
    configure_logging("WARNING")
    try:
        manifest = build_site(release, list(spec), out, renderer_path(settings))
    except DocsBuildError as exc:
        typer.echo(f"build failed: {exc}", err=True)
        raise typer.Exit(1) from None
    for entry in manifest.files:
        typer.echo(f"{entry.sha256[:12]}  {entry.size:>9}  {entry.path}")
    typer.echo(f"manifest_sha256 {manifest.manifest_sha256}")


@app.command()
def publish(
    release: str = typer.Option(..., help="New release id, such as 2025.06.1."),
    spec: list[str] = typer.Option(
        None, help="Document of PORTAL_DOCS_SPEC_DIR to publish; repeat for more (default: all)."
    ),
    wait: bool = typer.Option(True, help="Wait until the edge serves the release."),
    timeout: float = typer.Option(300.0, help="Seconds to wait with --wait."),
) -> None:
    """Start DocsReleaseWorkflow: build, upload, switch, purge, verify through the edge."""
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from portal import temporal
    from portal.docs_site.config import SpecNotFoundError
    from portal.docs_site.releases import release_status, start_release

    settings = _settings()
    configure_logging("WARNING")

    from portal.docs_site.config import resolve_specs

    # A wrong --spec is reported before any connection is made.
    try:
        resolve_specs(settings, spec or [])
    except SpecNotFoundError as exc:
        typer.echo(f"invalid --spec: {exc}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        client = await temporal.connect(settings)
        try:
            handle = await start_release(client, settings, release, spec, "portal docs publish")
        except SpecNotFoundError as exc:
            typer.echo(f"invalid --spec: {exc}", err=True)
            return 2
        except WorkflowAlreadyStartedError:
            typer.echo(f"release {release} exists; pick a new release id", err=True)
            return 2
        typer.echo(f"started {handle.id}: {_ui_link(settings, handle.id)}")
        if not wait:
            return 0
        try:
            await asyncio.wait_for(handle.result(), timeout)
        except TimeoutError:
            status = await release_status(client, release)
            state = status.state.value if status else "unknown"
            typer.echo(f"release {release} is {state} after {timeout:.0f} s; see the Temporal UI")
            return 1
        status = await release_status(client, release)
        typer.echo(json.dumps(status.model_dump(mode="json"), indent=2) if status else "")
        return 0 if status and status.state.value == "fresh" else 1

    raise typer.Exit(asyncio.run(run()))


@app.command()
def status(release: str = typer.Argument(..., help="Release id.")) -> None:
    """Print the state of a release: uploaded, purged, fresh or stale."""
    from portal import temporal
    from portal.docs_site.releases import release_status

    settings = _settings()
    configure_logging("WARNING")

    async def run() -> int:
        client = await temporal.connect(settings)
        found = await release_status(client, release)
        if found is None:
            typer.echo(f"no docs release {release}", err=True)
            return 3
        typer.echo(json.dumps(found.model_dump(mode="json"), indent=2))
        return 0

    raise typer.Exit(asyncio.run(run()))


@app.command()
def purge(
    release: str = typer.Option(None, help="Release whose objects to purge (default: all docs)."),
    path: list[str] = typer.Option(
        None, help="Public path to purge, such as /reference/*; repeat for more."
    ),
    timeout: float = typer.Option(300.0, help="Seconds to wait for the purge workflow."),
) -> None:
    """Purge the CDN and print the edge's manifest hash before and after.

    Exits 0 when the edge serves the origin's current release afterwards, 1 when it is
    still stale.
    """
    from activities.cdn import plan_invalidation_paths
    from portal import temporal
    from portal.docs_site.releases import start_purge
    from workflows.docs_purge import DocsPurgeWorkflow

    settings = _settings()
    configure_logging("WARNING")
    paths = list(path or [])
    try:
        plan_invalidation_paths(paths)
    except ValueError as exc:
        typer.echo(f"invalid --path: {exc}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        client = await temporal.connect(settings)
        handle = await start_purge(client, settings, release, paths, "portal docs purge")
        typer.echo(f"started {handle.id}: {_ui_link(settings, handle.id)}")
        result = await asyncio.wait_for(
            client.get_workflow_handle_for(DocsPurgeWorkflow.run, handle.id).result(), timeout
        )
        typer.echo(f"origin current release: {result.current_release_id}")
        typer.echo(f"origin manifest hash:   {result.manifest_sha256}")
        typer.echo(
            f"edge before:  {result.before.edge_manifest_sha256} "
            f"(release {result.before.edge_release_id})"
        )
        typer.echo(
            f"edge after:   {result.after.edge_manifest_sha256} "
            f"(release {result.after.edge_release_id})"
        )
        for purged in result.purges:
            typer.echo(f"purged {purged.provider}: {purged.detail}")
        for error in result.errors:
            typer.echo(f"purge failed {error}")
        typer.echo("edge is fresh" if result.fresh else f"edge is STALE: {result.after}")
        return 0 if result.fresh else 1

    raise typer.Exit(asyncio.run(run()))


@app.command()
def check() -> None:
    """Compare the edge's manifest with the origin's current release once, without Temporal."""
    from activities.cdn import CdnActivities
    from activities.s3 import S3OriginActivities
    from portal.docs_site.config import edge_url
    from workflows.docs_release import edge_check_input

    settings = _settings()
    configure_logging("WARNING")

    async def run() -> int:
        origin = S3OriginActivities(settings)
        current = await origin.read_current_release()
        if current is None:
            typer.echo(f"bucket {settings.docs_bucket} has no current release yet")
            return 3
        manifest = await origin.read_release_manifest(current.release_id)
        if manifest is None:
            typer.echo(f"current release {current.release_id} has no manifest at the origin")
            return 1
        cdn = CdnActivities(settings)
        try:
            result = await cdn.compare(
                edge_check_input(manifest, settings.docs_verify_sample_pages)
            )
        finally:
            await cdn.aclose()
        typer.echo(f"origin: release {current.release_id} manifest {current.manifest_sha256}")
        typer.echo(
            f"edge:   release {result.edge_release_id} manifest {result.edge_manifest_sha256} "
            f"({edge_url(settings)})"
        )
        if result.fresh:
            typer.echo("edge is fresh")
            return 0
        typer.echo(f"edge is STALE: stale paths {result.stale_paths} error {result.error}")
        return 1

    raise typer.Exit(asyncio.run(run()))


@app.command()
def bootstrap() -> None:
    """Create the docs bucket, the local CloudFront distribution and the freshness schedule."""
    from portal import temporal
    from portal.docs_site.releases import bootstrap as run_bootstrap

    settings = _settings()
    configure_logging("WARNING")

    async def run() -> None:
        client = await temporal.connect(settings)
        for line in await run_bootstrap(settings, client):
            typer.echo(line)

    asyncio.run(run())
