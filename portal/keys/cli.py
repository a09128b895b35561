"""`portal users`: seed portal users on the local stack and show their current TOTP codes."""

from __future__ import annotations

import asyncio
import secrets
import time

import pyotp
import typer

from portal.settings import Settings, SettingsError, load_settings

users_app = typer.Typer(
    help="Portal users of the local auth-service: seed them and read their TOTP codes.",
    no_args_is_help=True,
)

DEFAULT_TENANT = "tenant-dev"
DEFAULT_USERS = (("dev@example.com", "developer"), ("devrel@example.com", "devrel"))


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None


async def _seed(
    settings: Settings, tenant: str, users: list[tuple[str, list[str]]], password: str | None
) -> int:
    from portal.auth_service_client import AuthServiceClient, RequestRejectedError, UserExistsError
    from portal.errors import DependencyUnavailableError

    failures = 0
    async with AuthServiceClient(settings) as client:
        for email, roles in users:
            chosen = password or secrets.token_urlsafe(12)
            try:
                created = await client.create_user(
                    tenant_id=tenant, email=email, password=chosen, roles=roles
                )
            except UserExistsError:
                typer.echo(f"{email}: already exists; `portal users code {email}` shows its code.")
                continue
            except (RequestRejectedError, DependencyUnavailableError) as exc:
                typer.echo(f"{email}: not created: {exc}", err=True)
                failures += 1
                continue
            typer.echo(f"{email} (tenant {tenant}, roles {', '.join(sorted(roles))})")
            typer.echo(f"  password:    {chosen}")
            typer.echo(f"  TOTP secret: {created.totp_secret}")
            typer.echo(f"  add to an authenticator app: {created.totp_provisioning_uri}")
            typer.echo(f"  or print the current code:   portal users code {email}")
    return failures


@users_app.command("seed")
def seed(
    email: list[str] = typer.Option(
        None,
        help="Email of a user to create; repeat for more. Default: dev@ and devrel@example.com.",
    ),
    role: list[str] = typer.Option(
        None, help="Role of the users given with --email; repeat for more. Default: developer."
    ),
    tenant: str = typer.Option(DEFAULT_TENANT, help="Tenant id the users belong to."),
    password: str = typer.Option(
        None, help="Password for every user created (12 characters or more); random when unset."
    ),
) -> None:
    """Create portal users with TOTP enrolled, and print their passwords and TOTP secrets."""
    settings = _settings()
    if email:
        users = [(address, list(role or ["developer"])) for address in email]
    else:
        users = [(address, [default_role]) for address, default_role in DEFAULT_USERS]
    failures = asyncio.run(_seed(settings, tenant, users, password))
    raise typer.Exit(1 if failures else 0)


@users_app.command("code")
def code(email: str = typer.Argument(..., help="Email of a seeded user.")) -> None:
    """Print the current TOTP code of a user of the local auth-service.

    Reads the local auth-service's SQLite file, so it works only on a local
    stack; a real auth-service never hands out TOTP secrets.
    """
    from services.auth_service.server import database_path, load_pepper
    from services.auth_service.store import TOTP_INTERVAL_SECONDS, AuthStore

    settings = _settings()
    path = database_path(settings)
    if not path.exists():
        typer.echo(f"no local auth-service database at {path}; is the stack up?", err=True)
        raise typer.Exit(1)
    store = AuthStore(path, load_pepper(settings))
    try:
        secret = store.user_totp_secret(email)
    finally:
        store.close()
    if secret is None:
        typer.echo(
            f"no user {email}; create one with `portal users seed --email {email}`", err=True
        )
        raise typer.Exit(1)
    remaining = TOTP_INTERVAL_SECONDS - int(time.time()) % TOTP_INTERVAL_SECONDS
    typer.echo(pyotp.TOTP(secret).now())
    typer.echo(f"valid for {remaining} more seconds; each code works once", err=True)
