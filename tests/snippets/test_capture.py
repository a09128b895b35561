"""Snippets run against a local HTTPS capture server and send exactly the intended request."""

from __future__ import annotations

import base64
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

from portal.snippets import build_snippets
from portal.snippets.model import BasicAuth, BearerAuth, EnvVar, FormBody, HttpRequest, JsonBody
from tests.snippets import toolchains
from tests.snippets.capture import CapturedRequest, CaptureServer
from tests.snippets.conftest import ALL_SPECS, load_spec, point_at

# Headers an HTTP client adds on its own; any other header must be one the request intends.
CLIENT_HEADERS = {
    "host",
    "user-agent",
    "accept-encoding",
    "connection",
    "content-length",
    "expect",
    "accept-language",
    "sec-fetch-mode",
    "accept",
}
FORM_BYTES = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._~%+=&")
RUN_TIMEOUT = 60


def credential_value(name: str) -> str:
    """A fake credential full of shell syntax: it must arrive verbatim and never be evaluated."""
    return f"{name.lower()}-s3cr'et\"$(touch pwned)`touch pwned`;|&$HOME"


def client_env(
    tls_files: tuple[Path, Path, Path], request_env: set[str], home: Path
) -> dict[str, str]:
    ca, _, _ = tls_files
    env = {
        key: value
        for key, value in os.environ.items()
        if "proxy" not in key.lower() and key not in ("SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
    }
    env.update(
        SSL_CERT_FILE=str(ca), CURL_CA_BUNDLE=str(ca), NODE_EXTRA_CA_CERTS=str(ca), HOME=str(home)
    )
    env.update({name: credential_value(name) for name in request_env})
    return env


def decode_form(raw: bytes) -> list[tuple[str, str]]:
    """Decode an application/x-www-form-urlencoded string strictly, as UTF-8."""
    assert set(raw) <= FORM_BYTES, f"unencoded bytes in {raw[:80]!r}"
    if not raw:
        return []
    pairs = []
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        pairs.append(
            (
                unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8"),
                unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"),
            )
        )
    return pairs


def resolve(value: str | EnvVar) -> str:
    return credential_value(value.name) if isinstance(value, EnvVar) else value


def expected_headers(request: HttpRequest) -> dict[str, str]:
    headers = {name.lower(): resolve(value) for name, value in request.headers}
    if isinstance(request.auth, BasicAuth):
        pair = f"{resolve(request.auth.username)}:{resolve(request.auth.password)}"
        headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif isinstance(request.auth, BearerAuth):
        headers["authorization"] = "Bearer " + resolve(request.auth.token)
    if request.content_type:
        headers["content-type"] = request.content_type
    return headers


def same_json(left: Any, right: Any) -> bool:
    """Compare JSON values with exact strings and types (1 and 1.0 differ, True and 1 differ)."""
    if type(left) is not type(right) and not (
        isinstance(left, int | float)
        and isinstance(right, int | float)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
        and isinstance(left, float) == isinstance(right, float)
    ):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    return left == right


def has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(has_float(item) for item in value)
    return isinstance(value, float)


def assert_request(
    captured: CapturedRequest, request: HttpRequest, prefix: str, sorted_pairs: bool
) -> None:
    where = f"{request.operation_id}"
    assert captured.method == request.method, where
    assert captured.path == prefix + request.path, where

    expected_query = [(name, resolve(value)) for name, value in request.query]
    query = decode_form(captured.query.encode("ascii"))
    if sorted_pairs:
        expected_query = sorted(expected_query, key=lambda pair: pair[0])
    assert query == expected_query, where

    intended = expected_headers(request)
    seen: dict[str, list[str]] = {}
    for name, value in captured.headers:
        seen.setdefault(name.lower(), []).append(value)
    for name, value in intended.items():
        assert seen.get(name) == [value], f"{where}: header {name}"
    extra = set(seen) - set(intended) - CLIENT_HEADERS
    assert extra == set(), f"{where}: unexpected headers"

    if isinstance(request.body, FormBody):
        expected_form = [(name, resolve(value)) for name, value in request.body.fields]
        if sorted_pairs:
            expected_form = sorted(expected_form, key=lambda pair: pair[0])
        assert decode_form(captured.body) == expected_form, where
    elif isinstance(request.body, JsonBody):
        # Python and JavaScript serialize the body themselves and may write a float
        # differently (1e-07 against 1e-7), so bytes are compared only without floats.
        assert same_json(json.loads(captured.body), request.body.value), where
        if not has_float(request.body.value):
            assert captured.body == request.body.text.encode("utf-8"), where
    elif request.body is not None:
        assert captured.body == request.body.text.encode("utf-8"), where
    else:
        assert captured.body == b"", where


def command_for(language: str, path: Path) -> list[str]:
    if language == "curl":
        toolchains.require_tool("curl")
        return [toolchains.require_tool("dash"), str(path)]
    if language == "python":
        return [sys.executable, str(path)]
    if language == "javascript":
        return [toolchains.require_tool("node"), str(path)]
    raise AssertionError(language)


def run_binary(binary: Path, env: dict[str, str]):
    return toolchains.run([str(binary)], env=env, timeout=RUN_TIMEOUT)


@pytest.mark.parametrize("language", ["curl", "python", "javascript"])
@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_snippet_sends_intended_request(
    spec_id: str,
    language: str,
    capture_server: CaptureServer,
    tls_files: tuple[Path, Path, Path],
    tmp_path: Path,
) -> None:
    document, prefix = load_spec(spec_id)
    base_path = f"/{language}/{spec_id}"
    snippets = build_snippets(
        point_at(document, capture_server.base_url + base_path),
        languages=[language],
        env_prefix=prefix,
    )
    env_names = {name for snippet in snippets for name in snippet.request.env_vars}
    env = client_env(tls_files, env_names, tmp_path)
    paths = []
    for snippet in snippets:
        path = tmp_path / snippet.filename
        path.write_text(snippet.code, encoding="utf-8")
        paths.append(path)

    def run(path: Path):
        return toolchains.run(
            command_for(language, path), cwd=tmp_path, env=env, timeout=RUN_TIMEOUT
        )

    results = toolchains.parallel(run, paths)
    for snippet, result in zip(snippets, results, strict=True):
        assert result.returncode == 0, f"{snippet.operation_id}: {result.stderr[-2000:]}"
    assert not (tmp_path / "pwned").exists(), "a value was executed by the shell"

    captured = capture_server.take(base_path + "/")
    assert len(captured) == len(snippets)
    by_key = {(c.method, c.path): c for c in captured}
    for snippet in snippets:
        request = snippet.request
        key = (request.method, base_path + request.path)
        assert key in by_key, f"{request.operation_id} sent nothing to {key}"
        assert_request(by_key[key], request, base_path, sorted_pairs=False)


# TODO: Java and C# snippets are compiled but not yet run against the capture server
# (Java needs a PKCS12 trust store made with keytool, Mono its own certificate store).
def test_go_snippets_send_intended_request(
    capture_server: CaptureServer, tls_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    go = toolchains.require_tool("go")
    for spec_id in ("quoting", "unicode", "twilio-verify-v2"):
        document, prefix = load_spec(spec_id)
        base_path = f"/go/{spec_id}"
        snippets = build_snippets(
            point_at(document, capture_server.base_url + base_path),
            languages=["go"],
            env_prefix=prefix,
        )
        module = tmp_path / spec_id
        for snippet in snippets:
            path = module / snippet.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet.code, encoding="utf-8")
        (module / "go.mod").write_text("module snippets\n\ngo 1.16\n", encoding="utf-8")
        env = client_env(tls_files, {n for s in snippets for n in s.request.env_vars}, tmp_path)
        env.update(
            GOFLAGS="-mod=mod",
            GOPROXY="off",
            GOCACHE=os.environ.get("GOCACHE", str(Path.home() / ".cache" / "go-build")),
        )
        built = toolchains.run(
            [go, "build", "-o", str(module / "bin") + "/", "./..."], cwd=module, env=env
        )
        assert built.returncode == 0, built.stderr
        binaries = [module / "bin" / Path(s.filename).parent.name for s in snippets]
        results = toolchains.parallel(functools.partial(run_binary, env=env), binaries)
        for snippet, result in zip(snippets, results, strict=True):
            assert result.returncode == 0, f"{snippet.operation_id}: {result.stderr[-2000:]}"
        captured = {(c.method, c.path): c for c in capture_server.take(base_path + "/")}
        for snippet in snippets:
            key = (snippet.request.method, base_path + snippet.request.path)
            # Go's url.Values.Encode sorts by name.
            assert_request(captured[key], snippet.request, base_path, sorted_pairs=True)
