"""Recognising credentials in a document and naming the environment variables that hold them.

Snippets never contain a credential: every value that authenticates the caller
is read from an environment variable, even when the document gives an example.
"""

from __future__ import annotations

import re
from typing import Any

from portal.snippets.errors import SpecError
from portal.snippets.loader import Document
from portal.snippets.model import Auth, BasicAuth, BearerAuth, EnvVar

# Parameter and property names (lower case, letters and digits only) that carry a
# secret. Names that only end in "token", such as Twilio's PageToken, are not listed.
CREDENTIAL_NAMES = frozenset(
    {
        "apikey",
        "apisecret",
        "apitoken",
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "authtoken",
        "accesstoken",
        "bearertoken",
        "refreshtoken",
        "sessiontoken",
        "clientsecret",
        "privatekey",
        "secretkey",
        "accesskey",
        "signaturesecret",
        "sharedsecret",
        "authorization",
    }
)
CREDENTIAL_SUFFIXES = ("secret", "password", "apikey", "authtoken", "accesstoken", "privatekey")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def is_credential_name(name: str, schema: Any = None) -> bool:
    """Return True if a parameter or property called `name` contains a credential.

    Args:
        name: The parameter or property name.
        schema: Its resolved schema; `format: password` marks a credential too.
    """
    if isinstance(schema, dict) and (
        schema.get("format") == "password" or schema.get("x-devportal-credential") is True
    ):
        return True
    normalized = re.sub(r"[^a-z0-9]", "", name.lower())
    return normalized in CREDENTIAL_NAMES or normalized.endswith(CREDENTIAL_SUFFIXES)


def words(text: str) -> list[str]:
    """Split `text` into lower-case words at case changes and non-alphanumeric characters."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def env_name(prefix: str, name: str) -> EnvVar:
    """Return the environment variable `PREFIX_NAME` for the credential `name`.

    Letters and digits are kept in upper snake case; everything else separates
    words, so the result is always a valid variable name in every shell.
    """
    parts = [prefix.upper(), *(word.upper() for word in words(name))]
    variable = "_".join(part for part in parts if part) or "API_CREDENTIAL"
    if variable[0].isdigit():
        variable = "_" + variable
    if not ENV_NAME.match(variable):
        raise SpecError(f"cannot derive an environment variable name from {name!r}")
    return EnvVar(variable)


def default_env_prefix(document: Document) -> str:
    """Return the first word of the document title in upper case, such as `TWILIO`."""
    title = (document.root.get("info") or {}).get("title")
    found = words(title) if isinstance(title, str) else []
    return found[0].upper() if found else "API"


def security_schemes(document: Document) -> dict[str, Any]:
    """Return the document's security schemes (Swagger `securityDefinitions` included)."""
    if document.version == 2:
        schemes = document.root.get("securityDefinitions") or {}
    else:
        schemes = (document.root.get("components") or {}).get("securitySchemes") or {}
    return {name: document.resolve(scheme) for name, scheme in schemes.items()}


def operation_security(document: Document, operation: dict[str, Any]) -> list[str]:
    """Return the scheme names of the first security requirement that applies.

    An operation's `security` replaces the document's; an empty list or an
    empty requirement object means no authentication.
    """
    requirements = operation.get("security", document.root.get("security"))
    if not isinstance(requirements, list) or not requirements:
        return []
    first = requirements[0]
    return list(first) if isinstance(first, dict) else []


class ApiKeyLocation:
    """Location (`in`), parameter name and environment variable of an API key scheme."""

    def __init__(self, location: str, name: str, env: EnvVar) -> None:
        self.location = location
        self.name = name
        self.env = env


def resolve_auth(
    document: Document, operation: dict[str, Any], prefix: str, where: str
) -> tuple[Auth, list[ApiKeyLocation]]:
    """Work out how the operation authenticates.

    Returns:
        The `Authorization` scheme (basic or bearer) and the API keys to send as
        headers, query parameters or cookies.

    Raises:
        SpecError: If a scheme is undefined or of a type the generator does not support.
    """
    schemes = security_schemes(document)
    auth: Auth = None
    api_keys: list[ApiKeyLocation] = []
    for scheme_name in operation_security(document, operation):
        scheme = schemes.get(scheme_name)
        if not isinstance(scheme, dict):
            raise SpecError(f"{where}: security scheme {scheme_name!r} is not defined")
        kind = str(scheme.get("type", "")).lower()
        http_scheme = str(scheme.get("scheme", "")).lower()
        if kind == "basic" or (kind == "http" and http_scheme == "basic"):
            auth = BasicAuth(*_basic_env_names(prefix, scheme_name))
        elif kind == "http" and http_scheme == "bearer" or kind in ("oauth2", "openidconnect"):
            auth = BearerAuth(env_name(prefix, "access_token"))
        elif kind == "apikey":
            location, name = scheme.get("in"), scheme.get("name")
            if location not in ("header", "query", "cookie") or not isinstance(name, str):
                raise SpecError(f"{where}: API key scheme {scheme_name!r} needs `in` and `name`")
            variable = re.sub(r"^(?i:x)[-_]", "", name)
            api_keys.append(ApiKeyLocation(location, name, env_name(prefix, variable)))
        else:
            raise SpecError(
                f"{where}: security scheme {scheme_name!r} of type {kind!r} {http_scheme!r} is "
                "not supported; use basic, bearer, oauth2, openIdConnect or apiKey"
            )
    return auth, api_keys


def _basic_env_names(prefix: str, scheme_name: str) -> tuple[EnvVar, EnvVar]:
    # A scheme named after its two parts, such as Twilio's accountSid_authToken,
    # gives the variables the names its users already know (TWILIO_ACCOUNT_SID).
    parts = scheme_name.split("_")
    if len(parts) == 2 and all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", part) for part in parts):
        return env_name(prefix, parts[0]), env_name(prefix, parts[1])
    return env_name(prefix, "username"), env_name(prefix, "password")
