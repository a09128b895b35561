"""`portal codec-server`: Temporal's remote codec endpoints over the portal's payload codec.

The Temporal UI and CLI send `POST /encode` and `POST /decode` with a JSON
body `{"payloads": [{"metadata": {...}, "data": "..."}]}` (the protobuf JSON
form of `temporal.api.common.v1.Payloads`, bytes in base64) and an
`X-Namespace` header. The response body has the same shape.

Only authorised callers get plaintext: a request must carry
`Authorization: Bearer <codec_auth_token>` (the CLI's `--codec-auth`), or the
session cookie that `/login` sets after the same token was entered there (the
Temporal UI sends it when "Include cross-origin credentials" is on in its
codec settings). Browsers may call the endpoints only from the Temporal UI's
origins (CORS).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from google.protobuf import json_format
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from api.problems import Problem, install_problem_handlers
from portal.codec import KmsKeyError, PayloadDecryptionError, build_codec
from portal.errors import DependencyUnavailableError
from portal.settings import Settings

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 24
MAX_BODY_BYTES = 16 * 1024 * 1024
SESSION_COOKIE = "portal_codec_session"
SESSION_MAX_AGE_SECONDS = 8 * 3600
ALLOWED_HEADERS = ["content-type", "x-namespace", "authorization"]

CODEC_SERVER_REQUESTS = Counter(
    "portal_ops_codec_server_requests_total",
    "Requests to the codec server's /encode and /decode, by endpoint and HTTP status code.",
    ["endpoint", "code"],
)


class CodecServerConfigError(Exception):
    """The codec server cannot start with these settings; the message names the fix."""


def cors_origins(settings: Settings) -> list[str]:
    """Return the browser origins allowed to call the codec server: the Temporal UI's."""
    if settings.codec_cors_origins:
        return [origin.strip() for origin in settings.codec_cors_origins.split(",")]
    host, port = settings.temporal_host, settings.temporal_ui_port
    origins = [f"http://{host}:{port}"]
    if host in {"127.0.0.1", "localhost", "::1"}:
        origins += [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    return list(dict.fromkeys(origins))


def codec_public_url(settings: Settings) -> str:
    """Return the URL at which browsers and the Temporal CLI reach the codec server."""
    return settings.codec_public_url or f"http://{settings.host}:{settings.codec_port}"


def require_token(settings: Settings) -> str:
    """Return the codec server's shared secret.

    Raises:
        CodecServerConfigError: the token is unset or shorter than 24 characters.
    """
    token = settings.codec_auth_token.get_secret_value() if settings.codec_auth_token else ""
    if len(token) < MIN_TOKEN_LENGTH:
        raise CodecServerConfigError(
            "PORTAL_CODEC_AUTH_TOKEN must be set to a secret of at least "
            f"{MIN_TOKEN_LENGTH} characters; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    return token


def session_value(token: str, expires_at: int) -> str:
    """Return a session cookie value `EXPIRY.HMAC` valid until `expires_at` (Unix seconds).

    The HMAC, keyed with the token, covers the expiry, so the cookie never contains
    the token and a copied cookie stops working when it expires or the token changes.
    """
    signature = hmac.new(
        token.encode(), f"portal-codec-session:{expires_at}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{expires_at}.{signature}"


class Authoriser:
    """Checks the bearer token or session cookie of each codec request.

    Args:
        token: The shared secret callers must present.
    """

    def __init__(self, token: str) -> None:
        self._token_text = token
        self._token = token.encode()

    def new_session(self) -> str:
        """Return a session cookie value valid for SESSION_MAX_AGE_SECONDS from now."""
        return session_value(self._token_text, int(time.time()) + SESSION_MAX_AGE_SECONDS)

    def session_valid(self, cookie: str) -> bool:
        """Return True when `cookie` was signed with the token and has not expired."""
        expiry, _, _ = cookie.partition(".")
        if not expiry.isdigit() or int(expiry) < time.time():
            return False
        expected = session_value(self._token_text, int(expiry))
        return hmac.compare_digest(cookie.encode(), expected.encode())

    def token_matches(self, candidate: str) -> bool:
        """Return True when `candidate` is the shared secret (constant-time comparison)."""
        return hmac.compare_digest(candidate.encode(), self._token)

    def check(self, request: Request) -> None:
        """Return when `request` is authorised.

        Raises:
            Problem: 401 when it carries no credentials, 403 when they are wrong.
        """
        # TODO: accept the Temporal UI's OIDC access token ("Pass access token") by
        # verifying the JWT against the identity provider's JWKS, so DevRel behind SSO
        # needs no separate /login.
        header = request.headers.get("authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        if header:
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() == "bearer" and self.token_matches(credentials.strip()):
                return
            raise Problem(
                403,
                "Forbidden",
                "The Authorization header does not carry the codec server's token; send "
                "`Authorization: Bearer <PORTAL_CODEC_AUTH_TOKEN>`.",
            )
        if cookie:
            if self.session_valid(cookie):
                return
            raise Problem(
                403,
                "Forbidden",
                "The codec session cookie is invalid or expired; sign in again at /login.",
            )
        raise Problem(
            401,
            "Unauthorized",
            "Send `Authorization: Bearer <PORTAL_CODEC_AUTH_TOKEN>`, or sign in at /login so the "
            "Temporal UI can send the session cookie.",
            headers={"WWW-Authenticate": 'Bearer realm="portal-codec"'},
        )


async def _read_payloads(request: Request) -> Payloads:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Problem(
            415,
            "Unsupported media type",
            f"Content-Type is {content_type or 'missing'}; send application/json.",
        )
    length = request.headers.get("content-length", "")
    declared = int(length) if length.isdigit() else 0
    body = b"" if declared > MAX_BODY_BYTES else await request.body()
    if max(declared, len(body)) > MAX_BODY_BYTES:
        raise Problem(
            413, "Content too large", f"Send at most {MAX_BODY_BYTES} bytes of payloads a request."
        )
    try:
        return json_format.Parse(body, Payloads())
    except json_format.ParseError as exc:
        raise Problem(
            400,
            "Invalid request",
            'The body must be {"payloads": [{"metadata": {...}, "data": "<base64>"}]}: '
            f"{exc}",
            type_="invalid-request",
            errors=[{"field": "payloads", "in": "body", "message": str(exc)}],
        ) from None


def create_codec_app(settings: Settings, codec: PayloadCodec | None = None) -> FastAPI:
    """Build the codec server's ASGI app.

    Args:
        settings: Portal settings; the token, CORS origins and KMS settings are read.
        codec: Codec to use; the portal's KMS codec when None.

    Raises:
        CodecServerConfigError: the token setting is missing or too short.
    """
    authoriser = Authoriser(require_token(settings))
    codec = codec or build_codec(settings)
    origins = cors_origins(settings)

    app = FastAPI(
        title="devportal codec server",
        summary="Temporal remote codec endpoints: encrypt and decrypt portal payloads.",
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["POST"],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,
        max_age=600,
    )

    def endpoint(
        name: str, transform: Callable[[list], Awaitable[list]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            namespace = request.headers.get("x-namespace", "-")
            try:
                authoriser.check(request)
                payloads = await _read_payloads(request)
                result = await transform(list(payloads.payloads))
            except Problem as problem:
                CODEC_SERVER_REQUESTS.labels(name, str(problem.status)).inc()
                log.warning(
                    "codec request rejected endpoint=%s namespace=%s status=%d",
                    name,
                    namespace,
                    problem.status,
                )
                raise
            except PayloadDecryptionError as exc:
                CODEC_SERVER_REQUESTS.labels(name, "422").inc()
                log.warning("payload decryption failed namespace=%s error=%s", namespace, exc)
                raise Problem(422, "Payload cannot be decrypted", str(exc)) from None
            except KmsKeyError as exc:
                CODEC_SERVER_REQUESTS.labels(name, "503").inc()
                log.error("KMS rejected the codec server namespace=%s error=%s", namespace, exc)
                raise Problem(
                    503,
                    "Dependency unavailable",
                    f"KMS rejected the request: {exc}",
                    type_="dependency-unavailable",
                    headers={"Retry-After": "30"},
                    dependency="kms",
                ) from None
            except DependencyUnavailableError:
                # The shared problem handler turns it into a 503 with Retry-After.
                CODEC_SERVER_REQUESTS.labels(name, "503").inc()
                raise
            CODEC_SERVER_REQUESTS.labels(name, "200").inc()
            log.info(
                "codec request endpoint=%s namespace=%s payloads=%d", name, namespace, len(result)
            )
            body = json_format.MessageToJson(Payloads(payloads=result))
            return Response(body, media_type="application/json")

        return handle

    app.add_api_route("/encode", endpoint("encode", codec.encode), methods=["POST"])
    app.add_api_route("/decode", endpoint("decode", codec.decode), methods=["POST"])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/login", include_in_schema=False)
    async def login_form() -> HTMLResponse:
        return HTMLResponse(_login_page(""))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> HTMLResponse:
        fields = parse_qs((await request.body()).decode(errors="replace"))
        token = (fields.get("token") or [""])[0]
        if not authoriser.token_matches(token):
            log.warning("codec sign-in rejected: wrong token")
            return HTMLResponse(_login_page("That is not the codec server's token."), 403)
        log.info("codec sign-in accepted")
        response = HTMLResponse(_login_page("", signed_in=True))
        response.set_cookie(
            SESSION_COOKIE,
            authoriser.new_session(),
            max_age=SESSION_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    return app


def _login_page(error: str, signed_in: bool = False) -> str:
    if signed_in:
        body = (
            "<p>Signed in for 8 hours. In the Temporal UI, open the codec settings (the "
            "data encoder icon), keep this server's URL and turn on <em>Include cross-origin "
            "credentials</em>: payloads then show decrypted.</p>"
        )
    else:
        message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        body = (
            f"{message}<form method=post action=/login>"
            "<label>Codec server token <input type=password name=token autofocus></label> "
            "<button>Sign in</button></form>"
        )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>devportal codec server</title>"
        f"<h1>devportal codec server</h1>{body}</html>"
    )


def run_codec_server(settings: Settings) -> None:
    """Serve the codec endpoints on `settings.host`:`settings.codec_port` until stopped.

    Raises:
        CodecServerConfigError: the token setting is missing or too short.
    """
    import uvicorn

    app = create_codec_app(settings)
    log.info(
        "codec server starting port=%d cors_origins=%s kms_key=%s",
        settings.codec_port,
        ",".join(cors_origins(settings)),
        settings.payload_kms_key_alias,
    )
    uvicorn.run(app, host=settings.host, port=settings.codec_port, log_level="warning")
    log.info("codec server stopped")
