"""Turning each operation of a document into a language-neutral `HttpRequest`."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from portal.snippets.credentials import (
    ApiKeyLocation,
    default_env_prefix,
    env_name,
    is_credential_name,
    resolve_auth,
    words,
)
from portal.snippets.errors import SpecError
from portal.snippets.examples import OMITTED, ExampleBuilder, has_explicit_example
from portal.snippets.loader import Document
from portal.snippets.model import (
    Body,
    EnvVar,
    FormBody,
    HttpRequest,
    JsonBody,
    TextBody,
    Value,
)
from portal.snippets.servers import base_url

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
UNRESERVED = "-._~"
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Set by the HTTP clients themselves: fetch and java.net.http refuse them.
CLIENT_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "expect",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
    }
)
# OpenAPI ignores header parameters with these names.
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
FORM_TYPE = "application/x-www-form-urlencoded"


def build_requests(document: Document, env_prefix: str | None = None) -> list[HttpRequest]:
    """Build one sample request for every operation of `document`, in document order.

    Args:
        document: A loaded OpenAPI 3.x or Swagger 2.0 document.
        env_prefix: Prefix of the credential environment variables, such as
            `TWILIO`; by default the first word of the document title.

    Raises:
        SpecError: If an operation cannot be turned into a safe request.
    """
    prefix = env_prefix or default_env_prefix(document)
    builder = ExampleBuilder(document)
    paths = document.root.get("paths")
    if not isinstance(paths, dict):
        raise SpecError(f"{document.source}: the document has no `paths` mapping")
    requests: list[HttpRequest] = []
    used_names: set[str] = set()
    for path, raw_item in paths.items():
        item = document.resolve(raw_item)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            builder_context = _OperationBuilder(
                document, builder, prefix, path, method, item, operation
            )
            request = builder_context.build(used_names)
            used_names.add(request.name)
            requests.append(request)
    return requests


def unique_name(operation_id: str, used: set[str]) -> str:
    """Return `operation_id` as an ASCII UpperCamelCase identifier not in `used`."""
    name = "".join(word[:1].upper() + word[1:] for word in words(operation_id)) or "Operation"
    if name[0].isdigit():
        name = "Op" + name
    candidate, counter = name, 2
    while candidate in used:
        candidate, counter = f"{name}{counter}", counter + 1
    return candidate


def scalar_text(value: Any) -> str | None:
    """Return the text of a scalar parameter value, or None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encode_literal_path(text: str) -> str:
    encoded = quote(text, safe="/-._~!$&'()*+,;=:@%")
    return re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", encoded)


def check_text(value: str, where: str) -> str:
    """Reject strings no snippet can carry: NUL and lone surrogates."""
    if "\x00" in value:
        raise SpecError(
            f"{where}: value {value[:40]!r} contains NUL, which HTTP clients cannot send"
        )
    for char in value:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise SpecError(f"{where}: value contains the lone surrogate U+{ord(char):04X}")
    return value


class _OperationBuilder:
    def __init__(
        self,
        document: Document,
        builder: ExampleBuilder,
        prefix: str,
        path: str,
        method: str,
        item: dict[str, Any],
        operation: dict[str, Any],
    ) -> None:
        self.document = document
        self.builder = builder
        self.prefix = prefix
        self.path = path
        self.method = method
        self.item = item
        self.operation = operation
        self.where = f"{method.upper()} {path}"
        self.redacted: list[str] = []

    def build(self, used_names: set[str]) -> HttpRequest:
        operation_id = self.operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id.strip():
            operation_id = f"{self.method} {self.path}"
        parameters = self._parameters()
        auth, api_keys = resolve_auth(self.document, self.operation, self.prefix, self.where)
        query = self._query(parameters, api_keys)
        headers = self._headers(parameters, api_keys)
        self._reject_cookies(parameters, api_keys)
        content_type, body = self._body(parameters)
        return HttpRequest(
            operation_id=operation_id,
            name=unique_name(operation_id, used_names),
            summary=self._summary(operation_id),
            method=self.method.upper(),
            path_template=self.path,
            base_url=base_url(self.document, self.item, self.operation, self.where),
            path=self._path(parameters),
            query=tuple(query),
            headers=tuple(headers),
            auth=auth,
            content_type=content_type,
            body=body,
            redacted=tuple(dict.fromkeys(value for value in self.redacted if value)),
        )

    def _summary(self, operation_id: str) -> str:
        for key in ("summary", "description"):
            text = self.operation.get(key)
            if isinstance(text, str) and text.strip():
                return text.strip().splitlines()[0]
        return operation_id

    def _parameters(self) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [
            *(self.item.get("parameters") or []),
            *(self.operation.get("parameters") or []),
        ]:
            parameter = self.document.resolve(raw)
            if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                raise SpecError(f"{self.where}: a parameter needs a `name`, got {raw!r}")
            merged[(parameter["name"], str(parameter.get("in")))] = parameter
        return list(merged.values())

    def _schema(self, parameter: dict[str, Any]) -> Any:
        if self.document.version == 2 and parameter.get("in") != "body":
            return parameter
        if isinstance(parameter.get("content"), dict) and parameter["content"]:
            media = self.document.resolve(next(iter(parameter["content"].values())))
            return media.get("schema") if isinstance(media, dict) else None
        return parameter.get("schema")

    def _example(self, parameter: dict[str, Any], where: str) -> Any:
        """Return the parameter's example: the document's own, else one derived from its schema."""
        if "example" in parameter:
            return parameter["example"]
        if self.document.version == 2 and "x-example" in parameter:
            return parameter["x-example"]
        examples = parameter.get("examples")
        if isinstance(examples, dict) and examples:
            example = self.document.resolve(next(iter(examples.values())))
            if isinstance(example, dict) and "value" in example:
                return example["value"]
        content = parameter.get("content")
        if isinstance(content, dict) and content:
            media = self.document.resolve(next(iter(content.values())))
            if isinstance(media, dict) and "example" in media:
                return media["example"]
        return self.builder.from_schema(self._schema(parameter), where)

    def _is_sent(self, parameter: dict[str, Any]) -> bool:
        # A sample sends what it must and what the document shows an example for.
        if parameter.get("required") is True or parameter.get("in") == "path":
            return True
        schema = self.document.resolve(self._schema(parameter))
        return (
            "example" in parameter
            or "x-example" in parameter
            or bool(parameter.get("examples"))
            or has_explicit_example(schema)
        )

    def _is_credential(self, name: str, parameter_or_schema: Any) -> bool:
        schema = self.document.resolve(parameter_or_schema)
        return is_credential_name(name, schema)

    def _credential(self, name: str, example: Any) -> EnvVar:
        text = scalar_text(example) if example is not OMITTED else None
        if text:
            self.redacted.append(text)
        return env_name(self.prefix, name)

    def _path(self, parameters: list[dict[str, Any]]) -> str:
        by_name = {p["name"]: p for p in parameters if p.get("in") == "path"}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            parameter = by_name.get(name)
            if parameter is None:
                raise SpecError(f"{self.where}: path parameter {{{name}}} is not declared")
            where = f"{self.where} path parameter {name}"
            if self._is_credential(name, self._schema(parameter)):
                raise SpecError(f"{where}: credentials in the URL path are not supported")
            values = self._serialize(parameter, self._example(parameter, where), where)
            text = ",".join(value for _, value in values)
            if text in ("", ".", ".."):
                raise SpecError(
                    f"{where}: value {text!r} would be an empty or dot segment, which HTTP "
                    "clients remove from the path; give the parameter another example"
                )
            return quote(text, safe=UNRESERVED)

        # The literal parts of the template are encoded too: a document may use
        # non-ASCII or spaces in them. Existing %XX escapes are kept as written.
        parts = re.split(r"(\{[^{}]*\})", self.path)
        path = "".join(
            re.sub(r"\{([^{}]*)\}", substitute, part) if index % 2 else _encode_literal_path(part)
            for index, part in enumerate(parts)
        )
        if not path.startswith("/"):
            path = "/" + path
        return path

    def _serialize(
        self, parameter: dict[str, Any], value: Any, where: str
    ) -> list[tuple[str, str]]:
        """Serialize a query, path or header value into name and text pairs.

        Follows OpenAPI 3 `style`/`explode` (defaults: form and exploded for
        query, simple otherwise) and Swagger 2.0 `collectionFormat` (default csv).
        """
        name = parameter["name"]
        location = parameter.get("in")
        if value is OMITTED or value is None:
            return []
        if self.document.version == 2:
            separator = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}.get(
                parameter.get("collectionFormat", "csv"), None
            )
            if isinstance(value, list):
                items = [check_text(scalar_text(item) or "", where) for item in value]
                if separator is None:
                    return [(name, item) for item in items]
                return [(name, separator.join(items))]
            return [(name, check_text(scalar_text(value) or "", where))]
        style = parameter.get("style") or ("form" if location in ("query", "cookie") else "simple")
        explode = parameter.get("explode", style == "form")
        if isinstance(value, list):
            items = [check_text(scalar_text(item) or "", where) for item in value]
            if style == "form" and explode:
                return [(name, item) for item in items]
            joiner = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
            return [(name, joiner.join(items))]
        if isinstance(value, dict):
            pairs = [(str(k), check_text(scalar_text(v) or "", where)) for k, v in value.items()]
            if style == "deepObject":
                return [(f"{name}[{k}]", v) for k, v in pairs]
            if style == "form" and explode:
                return pairs
            if explode:
                return [(name, ",".join(f"{k}={v}" for k, v in pairs))]
            return [(name, ",".join(f"{k},{v}" for k, v in pairs))]
        return [(name, check_text(scalar_text(value) or "", where))]

    def _query(self, parameters: list[dict[str, Any]], api_keys: list[ApiKeyLocation]) -> list:
        query: list[tuple[str, Value]] = []
        for parameter in parameters:
            if parameter.get("in") != "query" or not self._is_sent(parameter):
                continue
            name = parameter["name"]
            where = f"{self.where} query parameter {name}"
            check_text(name, where)
            example = self._example(parameter, where)
            if self._is_credential(name, self._schema(parameter)):
                query.append((name, self._credential(name, example)))
                continue
            query.extend(self._serialize(parameter, example, where))
        for key in api_keys:
            if key.location == "query" and all(name != key.name for name, _ in query):
                query.append((key.name, key.env))
        return query

    def _headers(self, parameters: list[dict[str, Any]], api_keys: list[ApiKeyLocation]) -> list:
        headers: list[tuple[str, Value]] = []
        accept = self._accept()
        if accept:
            headers.append(("Accept", accept))
        for parameter in parameters:
            name = parameter["name"]
            if parameter.get("in") != "header" or name.lower() in IGNORED_HEADERS:
                continue
            if not self._is_sent(parameter):
                continue
            where = f"{self.where} header {name}"
            self._check_header_name(name, where)
            example = self._example(parameter, where)
            if self._is_credential(name, self._schema(parameter)):
                headers.append((name, self._credential(name, example)))
                continue
            pairs = self._serialize(parameter, example, where)
            if pairs:
                headers.append(
                    (name, self._check_header_value(",".join(v for _, v in pairs), where))
                )
        for key in api_keys:
            if key.location == "header":
                self._check_header_name(key.name, f"{self.where} API key header")
                headers = [(n, v) for n, v in headers if n.lower() != key.name.lower()]
                headers.append((key.name, key.env))
        return headers

    def _check_header_name(self, name: str, where: str) -> None:
        if not HEADER_NAME.match(name):
            raise SpecError(f"{where}: {name!r} is not a valid HTTP header name (RFC 9110 token)")
        if name.lower() in CLIENT_HEADERS:
            raise SpecError(
                f"{where}: header {name!r} is set by the HTTP client, not by the caller"
            )

    def _check_header_value(self, value: str, where: str) -> str:
        if not value or not all(0x20 <= ord(char) < 0x7F for char in value):
            raise SpecError(
                f"{where}: header value {value!r} must be non-empty printable ASCII; HTTP clients "
                "reject or re-encode other characters"
            )
        if value != value.strip(" "):
            raise SpecError(
                f"{where}: header value {value!r} has leading or trailing spaces, which HTTP drops"
            )
        return value

    def _reject_cookies(
        self, parameters: list[dict[str, Any]], api_keys: list[ApiKeyLocation]
    ) -> None:
        # TODO: cookie parameters and cookie API keys are not rendered yet, so an
        # operation that requires one is rejected.
        required = [
            p["name"] for p in parameters if p.get("in") == "cookie" and p.get("required") is True
        ]
        required += [key.name for key in api_keys if key.location == "cookie"]
        if required:
            raise SpecError(
                f"{self.where}: cookie parameters are not supported yet: {', '.join(required)}"
            )

    def _accept(self) -> str | None:
        if self.document.version == 2:
            produces = self.operation.get("produces") or self.document.root.get("produces") or []
            types = [t for t in produces if isinstance(t, str)]
        else:
            types = []
            responses = self.operation.get("responses") or {}
            for code, raw in responses.items():
                if str(code).startswith("2"):
                    response = self.document.resolve(raw)
                    if isinstance(response, dict):
                        types.extend(t for t in (response.get("content") or {}) if t not in types)
        for media_type in types:
            if media_type == "application/json" or media_type.endswith("+json"):
                return self._check_header_value(media_type, f"{self.where} Accept")
        return self._check_header_value(types[0], f"{self.where} Accept") if types else None

    def _body(self, parameters: list[dict[str, Any]]) -> tuple[str | None, Body]:
        if self.document.version == 2:
            return self._swagger_body(parameters)
        raw = self.operation.get("requestBody")
        if raw is None:
            return None, None
        request_body = self.document.resolve(raw)
        content = request_body.get("content") if isinstance(request_body, dict) else None
        if not isinstance(content, dict) or not content:
            return None, None
        required = request_body.get("required") is True
        for media_type, raw_media in content.items():
            media = self.document.resolve(raw_media) or {}
            base = media_type.split(";")[0].strip().lower()
            where = f"{self.where} request body ({media_type})"
            if base == "application/json" or base.endswith("+json"):
                return media_type, self._json_body(media, where)
            if base == FORM_TYPE:
                body = self._form_body(media, where)
                return (media_type, body) if body.fields or required else (None, None)
        for media_type, raw_media in content.items():
            media = self.document.resolve(raw_media) or {}
            example = self._media_example(media)
            if isinstance(example, str) and not media_type.lower().startswith("multipart/"):
                return media_type, TextBody(check_text(example, f"{self.where} request body"))
        # TODO: multipart/form-data and binary bodies are not rendered yet.
        raise SpecError(
            f"{self.where}: request body media types {', '.join(content)} are not supported; "
            "use application/json, application/x-www-form-urlencoded or give a text example"
        )

    def _media_example(self, media: dict[str, Any]) -> Any:
        if "example" in media:
            return media["example"]
        examples = media.get("examples")
        if isinstance(examples, dict) and examples:
            example = self.document.resolve(next(iter(examples.values())))
            if isinstance(example, dict) and "value" in example:
                return example["value"]
        return OMITTED

    def _json_body(self, media: dict[str, Any], where: str) -> JsonBody:
        value = self._media_example(media)
        if value is OMITTED:
            value = self.builder.from_schema(media.get("schema"), where)
        if value is OMITTED:
            value = {}
        self._check_json(value, where)
        return JsonBody.of(value)

    def _check_json(self, value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                check_text(key, where)
                if is_credential_name(key) and isinstance(item, str):
                    # TODO: credentials in JSON bodies need JSON built at run time in
                    # each language; such operations are rejected for now.
                    raise SpecError(
                        f"{where}: property {key!r} is a credential, and credentials in JSON "
                        "bodies are not supported because snippets read them from the environment"
                    )
                self._check_json(item, f"{where}.{key}")
        elif isinstance(value, list):
            for item in value:
                self._check_json(item, where)
        elif isinstance(value, str):
            check_text(value, where)

    def _form_body(self, media: dict[str, Any], where: str) -> FormBody:
        schema = media.get("schema")
        example = self._media_example(media)
        fields: list[tuple[str, Value]] = []
        if isinstance(example, dict):
            resolved = self.document.resolve(schema) if schema is not None else {}
            properties = resolved.get("properties") or {} if isinstance(resolved, dict) else {}
            chosen = [(name, properties.get(name), value) for name, value in example.items()]
        else:
            chosen = [
                (name, prop_schema, self.builder.from_schema(prop_schema, f"{where}.{name}"))
                for name, prop_schema, _ in self.builder.object_properties(schema, where)
            ]
        for name, prop_schema, value in chosen:
            fields.extend(self._form_field(name, prop_schema, value, f"{where} field {name}"))
        return FormBody(tuple(fields))

    def _form_field(
        self, name: str, schema: Any, value: Any, where: str
    ) -> list[tuple[str, Value]]:
        check_text(name, where)
        if self._is_credential(name, schema):
            return [(name, self._credential(name, value))]
        if value is OMITTED or value is None:
            return []
        if isinstance(value, list):
            # Form bodies explode arrays into one field per item (OpenAPI's default).
            return [(name, check_text(scalar_text(item) or "", where)) for item in value]
        # NOTE: objects are sent as JSON text in one field, as Twilio expects;
        # OpenAPI's default would explode them into one field per property.
        return [(name, check_text(scalar_text(value) or "", where))]

    def _swagger_body(self, parameters: list[dict[str, Any]]) -> tuple[str | None, Body]:
        consumes = self.operation.get("consumes") or self.document.root.get("consumes") or []
        body_parameter = next((p for p in parameters if p.get("in") == "body"), None)
        form_parameters = [p for p in parameters if p.get("in") == "formData"]
        if body_parameter is not None:
            where = f"{self.where} body parameter"
            media_type = next(
                (t for t in consumes if t == "application/json" or t.endswith("+json")),
                "application/json",
            )
            value = self.builder.from_schema(body_parameter.get("schema"), where)
            value = {} if value is OMITTED else value
            self._check_json(value, where)
            return media_type, JsonBody.of(value)
        if form_parameters:
            if consumes and FORM_TYPE not in consumes:
                # TODO: multipart/form-data bodies are not rendered yet.
                raise SpecError(
                    f"{self.where}: formData is only supported as {FORM_TYPE}, not {consumes}"
                )
            fields: list[tuple[str, Value]] = []
            for parameter in form_parameters:
                if not self._is_sent(parameter):
                    continue
                name = parameter["name"]
                where = f"{self.where} form field {name}"
                check_text(name, where)
                example = self._example(parameter, where)
                if self._is_credential(name, parameter):
                    fields.append((name, self._credential(name, example)))
                    continue
                fields.extend(self._serialize(parameter, example, where))
            return FORM_TYPE, FormBody(tuple(fields))
        return None, None
