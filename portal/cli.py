"""The `portal` command: start the local stack, run its processes, operate it."""

from __future__ import annotations

import asyncio
import sys
import traceback

import typer

from portal.docs_cli import app as docs_app
from portal.keys.cli import users_app
from portal.logging import configure_logging
from portal.ops.cli import app as ops_app
from portal.sdk_cli import app as sdk_app
from portal.settings import Settings, SettingsError, load_settings
from portal.snippets.cli import snippets_app

app = typer.Typer(
    name="portal",
    help="devportal: the developer portal backend and its local stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(snippets_app, name="snippets")
app.add_typer(users_app, name="users")
app.add_typer(ops_app, name="ops")
app.add_typer(docs_app, name="docs")
app.add_typer(sdk_app, name="sdk")


def _settings(**overrides: object) -> Settings:
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return load_settings(**clean)
    except SettingsError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def up(
    state_dir: str = typer.Option(
        None, help="State directory (default: PORTAL_STATE_DIR or .portal)."
    ),
) -> None:
    """Start the whole portal with its local services, in the foreground."""
    from portal.supervisor import Supervisor

    settings = _settings(state_dir=state_dir)
    configure_logging("WARNING", service="portal-up")
    code = asyncio.run(Supervisor(settings, echo=typer.echo).run())
    raise typer.Exit(code)


@app.command()
def status(
    state_dir: str = typer.Option(
        None, help="State directory (default: PORTAL_STATE_DIR or .portal)."
    ),
) -> None:
    """Report each service of the running local stack."""
    from portal.supervisor import report_status

    settings = _settings(state_dir=state_dir)
    configure_logging("WARNING")
    raise typer.Exit(asyncio.run(report_status(settings, echo=typer.echo)))


@app.command()
def worker() -> None:
    """Run the worker process that polls every portal task queue."""
    from workers.main import run_worker

    settings = _settings()
    from portal.process import run_event_loop

    configure_logging(settings.log_level, service="worker")
    run_event_loop(run_worker(settings))


@app.command()
def api(
    port: int = typer.Option(None, help="Port to listen on (default: PORTAL_API_PORT)."),
) -> None:
    """Run the portal API with uvicorn."""
    import uvicorn

    settings = _settings(api_port=port)
    uvicorn.run("api.main:app", host=settings.host, port=settings.api_port, log_level="info")


@app.command("codec-server")
def codec_server(
    port: int = typer.Option(None, help="Port to listen on (default: PORTAL_CODEC_PORT)."),
) -> None:
    """Serve Temporal's remote codec endpoints, so the Temporal UI and CLI show plaintext."""
    from portal.codec_server import CodecServerConfigError, run_codec_server

    settings = _settings(codec_port=port)
    configure_logging(settings.log_level, service="codec-server")
    try:
        run_codec_server(settings)
    except CodecServerConfigError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(
    only: str = typer.Option(None, help="Run only the steps whose title contains this text."),
) -> None:
    """Tour every capability of the portal on the running local stack."""
    from portal.demo import run_demo

    settings = _settings()
    configure_logging("WARNING")
    failures = asyncio.run(run_demo(settings, echo=typer.echo, only=only))
    raise typer.Exit(1 if failures else 0)


@app.command()
def settings(
    markdown: bool = typer.Option(False, help="Print the reference table for docs/settings.md."),
) -> None:
    """Print the effective settings, one PORTAL_ variable a line."""
    if markdown:
        from portal.settings import settings_reference

        typer.echo(settings_reference(), nl=False)
        return
    current = _settings()
    for name, value in current.model_dump().items():
        if "key" in name or "token" in name or "secret" in name:
            value = "***" if value else value
        typer.echo(f"PORTAL_{name.upper()}={value}")


@app.command("redis-acl")
def redis_acl() -> None:
    """Print the Redis ACL file for PORTAL_REDIS_URL's and PORTAL_REDIS_ADMIN_URL's users.

    Production Redis loads this file (`--aclfile`); passwords appear only as
    SHA-256 hashes.
    """
    from portal.verify.redis_acl import render_acl_file

    current = _settings()
    if not current.redis_admin_url:
        typer.echo("PORTAL_REDIS_ADMIN_URL is unset: set it to the admin user's URL.", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(render_acl_file(current.redis_url, current.redis_admin_url), nl=False)
    except ValueError as exc:
        typer.echo(f"invalid Redis URLs: {exc}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    """Entry point of the `portal` command and of `python -m portal`."""
    from portal.process import end_process, exit_code_of

    try:
        app(prog_name="portal")
    except SystemExit as exc:
        end_process(exit_code_of(exc))
    except RuntimeError as exc:
        # The Temporal client raises a bare RuntimeError when it cannot connect.
        if not str(exc).startswith("Failed client connect"):
            traceback.print_exc()
        else:
            print(
                f"cannot reach Temporal: {exc}\nStart the stack with `portal up`, or set "
                "PORTAL_TEMPORAL_ADDRESS to a running server.",
                file=sys.stderr,
            )
        end_process(1)
    except Exception:
        traceback.print_exc()
        end_process(1)
    end_process(0)


if __name__ == "__main__":
    sys.exit(main())
