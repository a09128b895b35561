"""The codec server in `portal up`: its service entry and its local token."""

from __future__ import annotations

import logging
import os
import secrets
import sys

from portal.codec_server import codec_public_url
from portal.settings import Settings
from portal.stack import Endpoint, Service, http_ok

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "codec-token"


def local_codec_token(settings: Settings) -> str:
    """Return the codec server's token: the setting, else the one kept in the state directory.

    The first `portal up` without PORTAL_CODEC_AUTH_TOKEN writes a random token
    to `<state dir>/codec-token`, readable by its owner only. Later runs reuse it,
    so a Temporal UI signed in once stays signed in across restarts.
    """
    if settings.codec_auth_token is not None:
        return settings.codec_auth_token.get_secret_value()
    path = settings.state_dir / TOKEN_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    log.info("generated codec server token path=%s", path)
    return token


def codec_server_service(settings: Settings, env: dict[str, str]) -> Service:
    """Return the codec server, which the Temporal UI points at, so it starts before Temporal."""
    host, port = settings.host, settings.codec_port
    token_source = (
        "PORTAL_CODEC_AUTH_TOKEN"
        if settings.codec_auth_token is not None
        else str((settings.state_dir / TOKEN_FILE_NAME).resolve())
    )
    return Service(
        name="codec-server",
        argv=[sys.executable, "-m", "portal", "codec-server"],
        health=lambda: http_ok(f"http://{host}:{port}/healthz"),
        endpoints=[
            Endpoint("Codec server (Temporal UI and CLI decryption)", codec_public_url(settings)),
            Endpoint("Codec server token", token_source),
        ],
        env={
            **env,
            "PORTAL_CODEC_PORT": str(port),
            "PORTAL_CODEC_AUTH_TOKEN": local_codec_token(settings),
        },
    )
