"""Loading, `$ref` resolution, example derivation, servers and auth of the request model."""

from __future__ import annotations

import re

import pytest

from portal.snippets import Document, InsecureSpecError, SpecError
from portal.snippets.examples import ExampleBuilder, string_for_pattern
from portal.snippets.loader import parse_document
from portal.snippets.model import BasicAuth, BearerAuth, EnvVar, FormBody, JsonBody
from portal.snippets.operations import build_requests
from tests.snippets.conftest import HOSTILE_DIR, load_spec


def document(text: str) -> Document:
    return Document(parse_document(text, "inline.yaml"), "inline.yaml")


def minimal(paths: str, extra: str = "") -> Document:
    return document(
        "openapi: 3.0.3\ninfo: {title: T, version: '1'}\nservers: [{url: 'https://a.test'}]\n"
        + extra
        + "paths:\n"
        + paths
    )


def test_ref_loop_is_an_error() -> None:
    doc = minimal(
        "  /x: {get: {responses: {}}}\n",
        "components:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n"
        "    B: {$ref: '#/components/schemas/A'}\n",
    )
    with pytest.raises(SpecError, match="loop"):
        doc.resolve({"$ref": "#/components/schemas/A"})


def test_external_ref_is_an_error() -> None:
    doc = minimal("  /x: {get: {responses: {}}}\n")
    with pytest.raises(SpecError, match="only references inside the same document"):
        doc.resolve({"$ref": "other.yaml#/components/schemas/A"})


def test_dangling_ref_is_an_error() -> None:
    doc = minimal("  /x: {get: {responses: {}}}\n")
    with pytest.raises(SpecError, match="points at nothing"):
        doc.resolve({"$ref": "#/components/schemas/Missing"})


def test_yaml_alias_bomb_stays_shared() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)
    ]
    parsed = parse_document("\n".join(lines) + "\n", "bomb.yaml")
    assert parsed["a11"][0] is parsed["a10"]


def test_yaml_dates_and_int_keys_become_strings() -> None:
    parsed = parse_document("when: 2024-01-02\n200: ok\n", "x.yaml")
    assert parsed == {"when": "2024-01-02", "200": "ok"}


def test_json_nan_is_rejected() -> None:
    with pytest.raises(SpecError, match="NaN"):
        parse_document('{"openapi": "3.0.0", "x": NaN}', "x.json")


def test_refs_document_resolves_nested_and_recursive() -> None:
    doc, prefix = load_spec("refs")
    (request,) = build_requests(doc, prefix)
    assert request.path == "/trees/eu-west"
    assert request.base_url == "https://refs.example.test/api"
    assert request.query == (("limit", "25"),)
    assert isinstance(request.auth, BearerAuth)
    assert request.auth.token == EnvVar("REFS_ACCESS_TOKEN")
    assert isinstance(request.body, JsonBody)
    tree = request.body.value
    assert tree["children"] == []
    assert "parent" not in tree
    assert tree["kind"] == {"label": "leaf"}
    assert 2 < tree["score"] <= 3
    assert len(tree["name"]) >= 12
    assert re.fullmatch(r"[A-Z]{2}-\d{4}", tree["code"])
    assert tree["id"] == "123e4567-e89b-12d3-a456-426614174000"
    assert tree["choice"] == 7
    assert "note" not in tree


def test_pattern_examples() -> None:
    assert string_for_pattern("^VA[0-9a-fA-F]{32}$") == "VA" + "0" * 32
    assert string_for_pattern(r"^\+[1-9]\d{1,14}$") == "+10"
    assert string_for_pattern("(?P<x>a)(?P=x)") is None


def test_numeric_bounds_respected() -> None:
    builder = ExampleBuilder(minimal("  /x: {get: {responses: {}}}\n"))
    assert builder.from_schema({"type": "integer", "minimum": 5, "maximum": 9}, "x") == 5
    assert builder.from_schema({"type": "integer", "exclusiveMaximum": 0}, "x") == -1
    assert builder.from_schema({"type": "integer", "minimum": 7, "multipleOf": 5}, "x") == 10
    assert builder.from_schema({"type": "number", "minimum": 10, "maximum": 11}, "x") == 10.5
    assert builder.from_schema({"type": "string", "maxLength": 3}, "x") == "exa"
    assert builder.from_schema(
        {"type": "array", "items": {"type": "boolean"}, "minItems": 2}, "x"
    ) == [True, True]
    assert builder.from_schema({"enum": [None, "b"]}, "x") == "b"


def test_server_variables_and_http_fallback() -> None:
    doc, prefix = load_spec("quoting")
    requests = {r.operation_id: r for r in build_requests(doc, prefix)}
    assert requests["send message; rm -rf / #"].base_url == "https://eu.example.test/v1"
    assert requests["postJson"].base_url == "https://json.example.test/base"
    assert requests["search"].base_url == "https://search.example.test"


def test_only_http_server_names_it() -> None:
    doc = Document.load(HOSTILE_DIR / "http_only.yaml")
    with pytest.raises(InsecureSpecError, match="http://insecure.example.test/v1"):
        build_requests(doc)


def test_server_credentials_rejected() -> None:
    doc = document(
        "openapi: 3.0.0\ninfo: {title: T, version: '1'}\n"
        "servers: [{url: 'https://user:pw@a.test'}]\npaths: {/x: {get: {responses: {}}}}\n"
    )
    with pytest.raises(InsecureSpecError, match="credentials"):
        build_requests(doc)


def test_swagger2_request() -> None:
    doc, prefix = load_spec("swagger2")
    requests = {r.operation_id: r for r in build_requests(doc, prefix)}
    sms = requests["sendSms"]
    assert sms.base_url == "https://legacy.example.test:8443/api/v2"
    assert sms.path == "/sms/%2B44%207700%20900000"
    assert ("api_key", EnvVar("LEGACY_API_KEY")) in sms.query
    assert ("pipes", "1|2") in sms.query
    assert isinstance(sms.body, FormBody)
    fields = sms.body.fields
    assert [v for n, v in fields if n == "multi"] == ["a b", "c'd"]
    assert ("csv", "x,y z") in fields
    assert ("ttl", "30") in fields
    assert dict(sms.headers)["Accept"] == "application/json"
    message = requests["postMessage"]
    assert isinstance(message.auth, BasicAuth)
    assert message.auth.username == EnvVar("LEGACY_USERNAME")
    assert message.body.value["meta"] == {
        "tag": "line one\nline two\r\nline\tthree\n\ntrailing newline\n"
    }


def test_twilio_basic_auth_names() -> None:
    doc, prefix = load_spec("twilio-verify-v2")
    request = build_requests(doc, prefix)[0]
    assert request.auth == BasicAuth(EnvVar("TWILIO_ACCOUNT_SID"), EnvVar("TWILIO_AUTH_TOKEN"))


def test_vonage_credentials_come_from_environment() -> None:
    doc, prefix = load_spec("vonage-verify")
    for request in build_requests(doc, prefix):
        pairs = dict(request.query) | (dict(request.body.fields) if request.body else {})
        assert pairs["api_key"] == EnvVar("VONAGE_API_KEY")
        assert pairs["api_secret"] == EnvVar("VONAGE_API_SECRET")
        assert "Sup3rS3cr3t!!" in request.redacted


def test_hostile_values_reach_request_unchanged() -> None:
    doc, prefix = load_spec("quoting")
    request = next(
        r for r in build_requests(doc, prefix) if r.method == "POST" and "messages" in r.path
    )
    schema = doc.root["paths"]["/messages/{message id}/send"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]["properties"]
    fields = dict(request.body.fields)
    for name in ("Body", "Multi", "Control", "Escapes", "quote'\"name", "$(id)"):
        assert fields[name] == schema[name]["example"]


@pytest.mark.parametrize("value", ["..", "."])
def test_dot_segment_path_value_is_rejected(value: str) -> None:
    doc = minimal(
        f"  /x/{{id}}:\n    get:\n      parameters: [{{name: id, in: path, required: true, "
        f"schema: {{type: string}}, example: '{value}'}}]\n      responses: {{}}\n"
    )
    with pytest.raises(SpecError, match="dot segment"):
        build_requests(doc)


def test_header_with_line_break_is_rejected() -> None:
    doc = minimal(
        "  /x:\n    get:\n      parameters: [{name: X-A, in: header, required: true, "
        'schema: {type: string}, example: "a\\r\\nInjected: 1"}]\n      responses: {}\n'
    )
    with pytest.raises(SpecError, match="printable ASCII"):
        build_requests(doc)


def test_nul_value_is_rejected() -> None:
    doc = minimal(
        "  /x:\n    get:\n      parameters: [{name: q, in: query, required: true, "
        'schema: {type: string}, example: "a\\0b"}]\n      responses: {}\n'
    )
    with pytest.raises(SpecError, match="NUL"):
        build_requests(doc)


def test_credential_in_json_body_is_rejected() -> None:
    doc = minimal(
        "  /x:\n    post:\n      requestBody: {content: {application/json: {example: "
        "{api_secret: s3cr3t}}}}\n      responses: {}\n"
    )
    with pytest.raises(SpecError, match="credential"):
        build_requests(doc)
