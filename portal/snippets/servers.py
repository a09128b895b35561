"""Choosing the server URL a snippet sends its request to."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from portal.snippets.errors import InsecureSpecError, SpecError
from portal.snippets.loader import Document

# Characters RFC 3986 allows in a URI; anything else in a server URL is a
# mistake in the document, not something to escape.
URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/@!$&'()*+,;=%\[\]]+$")


def base_url(
    document: Document, path_item: dict[str, Any], operation: dict[str, Any], where: str
) -> str:
    """Return the https base URL for an operation, without a trailing slash.

    OpenAPI 3 takes the operation's `servers`, else the path item's, else the
    document's, substitutes server variables with their defaults and uses the
    first https server. Swagger 2.0 combines `schemes`, `host` and `basePath`.

    Raises:
        InsecureSpecError: If the document offers only plain http servers.
        SpecError: If no usable absolute server URL is given.
    """
    if document.version == 2:
        candidates = _swagger_urls(document, operation, where)
    else:
        servers = (
            operation.get("servers") or path_item.get("servers") or document.root.get("servers")
        )
        if not isinstance(servers, list) or not servers:
            raise SpecError(f"{where}: no `servers` entry: the snippet needs an absolute https URL")
        candidates = [_expand(document.resolve(server), where) for server in servers]
    for url in candidates:
        if url.lower().startswith("https://"):
            return _validated(url, where)
    for url in candidates:
        if not urlsplit(url).scheme:
            raise SpecError(
                f"{where}: server URL {url!r} is relative: the snippet needs an absolute https URL"
            )
    offered = ", ".join(candidates)
    raise InsecureSpecError(
        f"{where}: only insecure servers are offered ({offered}); snippets send requests over "
        "https only, so add an https server to the document"
    )


def _expand(server: Any, where: str) -> str:
    if not isinstance(server, dict) or not isinstance(server.get("url"), str):
        raise SpecError(f"{where}: a server entry needs a `url` string, got {server!r}")
    variables = server.get("variables") or {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        variable = variables.get(name)
        if not isinstance(variable, dict) or "default" not in variable:
            raise SpecError(
                f"{where}: server variable {{{name}}} in {server['url']!r} has no default"
            )
        return str(variable["default"])

    return re.sub(r"\{([^{}]*)\}", substitute, server["url"])


def _swagger_urls(document: Document, operation: dict[str, Any], where: str) -> list[str]:
    host = document.root.get("host")
    if not isinstance(host, str) or not host:
        raise SpecError(
            f"{where}: Swagger 2.0 document has no `host`: the snippet needs an absolute URL"
        )
    base_path = document.root.get("basePath") or "/"
    # NOTE: Swagger 2.0 defines a missing `schemes` as the scheme the document was
    # fetched with. A document read from disk has none, so https is assumed.
    schemes = operation.get("schemes") or document.root.get("schemes") or ["https"]
    return [f"{scheme}://{host}{base_path}" for scheme in schemes]


def _validated(url: str, where: str) -> str:
    if not URL_CHARACTERS.match(url):
        raise SpecError(
            f"{where}: server URL {url!r} contains characters that are not allowed in a URL"
        )
    parts = urlsplit(url)
    if not parts.hostname:
        raise SpecError(f"{where}: server URL {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InsecureSpecError(f"{where}: server URL {url!r} contains credentials; remove them")
    if parts.query or parts.fragment:
        raise SpecError(f"{where}: server URL {url!r} may not contain a query or fragment")
    return url.rstrip("/")
