"""Example values for parameters and bodies, taken from the document or derived from schemas.

Document examples win. Otherwise a value is derived from the schema: `const`,
then `default`, then the first `enum` value, then a value that fits the type,
`format`, `pattern`, length and range constraints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from portal.snippets.errors import SpecError
from portal.snippets.loader import Document

try:  # NOTE: re._parser is CPython's private regex parser (public as sre_parse before 3.11).
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# Deeper nesting than this in a request body is cut off: samples stay readable
# and a schema graph with many paths cannot make derivation exponential.
MAX_SCHEMA_DEPTH = 10

# Values a reader recognises as placeholders and that satisfy the format's grammar.
FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2024-01-15T09:30:00Z",
    "date": "2024-01-15",
    "time": "09:30:00Z",
    "duration": "PT5M",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/callback",
    "url": "https://example.com/callback",
    "uri-reference": "https://example.com/callback",
    "iri": "https://example.com/callback",
    "uri-template": "https://example.com/{id}",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "byte": "ZXhhbXBsZQ==",
    "phone-number": "+15005550006",
    "phone": "+15005550006",
    "e164": "+15005550006",
    "country-code": "US",
    "currency": "USD",
    "locale": "en-US",
}
DEFAULT_STRING = "example"


@dataclass(frozen=True)
class _Omitted:
    """Marker for a value that cannot be derived, such as a recursive schema's next level."""


OMITTED = _Omitted()


def has_explicit_example(schema: Any) -> bool:
    """Return True if `schema` itself carries an `example` or a non-empty `examples` list."""
    if not isinstance(schema, dict):
        return False
    examples = schema.get("examples")
    return "example" in schema or (isinstance(examples, list) and len(examples) > 0)


class ExampleBuilder:
    """Derives example values from the schemas of one document.

    Args:
        document: The document whose `$ref`s the schemas use.
    """

    def __init__(self, document: Document) -> None:
        self.document = document

    def from_schema(self, schema: Any, where: str) -> Any:
        """Return an example value for `schema`, or `OMITTED` if none can be built.

        Args:
            schema: A schema object (or a `$ref` to one).
            where: Location of the schema, for error messages.
        """
        return self._value(schema, stack=(), depth=0, where=where)

    def _value(self, schema: Any, stack: tuple[str, ...], depth: int, where: str) -> Any:
        if schema is None or schema is True or schema == {}:
            return DEFAULT_STRING
        if not isinstance(schema, dict):
            raise SpecError(f"{where}: a schema must be a mapping, got {schema!r}")
        schema, chain = self.document.deref(schema)
        if any(ref in stack for ref in chain) or depth > MAX_SCHEMA_DEPTH:
            return OMITTED
        stack = stack + chain
        if not isinstance(schema, dict):
            raise SpecError(f"{where}: a schema must be a mapping, got {schema!r}")

        explicit = self._explicit(schema)
        if explicit is not OMITTED:
            return explicit
        if isinstance(schema.get("allOf"), list):
            return self._value(self._merge_all_of(schema, stack, where), stack, depth + 1, where)
        for keyword in ("oneOf", "anyOf"):
            alternatives = schema.get(keyword)
            if isinstance(alternatives, list) and alternatives:
                for alternative in alternatives:
                    resolved = self.document.resolve(alternative)
                    if isinstance(resolved, dict) and _schema_type(resolved) != "null":
                        return self._value(alternative, stack, depth + 1, where)
                return None

        kind = _schema_type(schema)
        if kind == "object":
            return self._object(schema, stack, depth, where)
        if kind == "array":
            return self._array(schema, stack, depth, where)
        if kind == "integer":
            return _integer(schema)
        if kind == "number":
            return _number(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema)

    def _explicit(self, schema: dict[str, Any]) -> Any:
        if "example" in schema:
            return schema["example"]
        examples = schema.get("examples")
        if isinstance(examples, list) and examples:
            return examples[0]
        if "const" in schema:
            return schema["const"]
        if "default" in schema:
            return schema["default"]
        enum = schema.get("enum")
        if isinstance(enum, list):
            for value in enum:
                if value is not None:
                    return value
        return OMITTED

    def _merge_all_of(self, schema: dict[str, Any], stack: tuple[str, ...], where: str) -> dict:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties: dict[str, Any] = dict(merged.get("properties") or {})
        required: list[str] = list(merged.get("required") or [])
        for part in schema["allOf"]:
            resolved, chain = self.document.deref(part)
            if any(ref in stack for ref in chain) or not isinstance(resolved, dict):
                continue
            if isinstance(resolved.get("allOf"), list):
                resolved = self._merge_all_of(resolved, stack + chain, where)
            properties.update(resolved.get("properties") or {})
            required.extend(name for name in resolved.get("required") or [] if name not in required)
            for key, value in resolved.items():
                if key not in ("properties", "required"):
                    merged.setdefault(key, value)
        if properties:
            merged["properties"] = properties
            merged.setdefault("type", "object")
        if required:
            merged["required"] = required
        return merged

    def object_properties(self, schema: Any, where: str) -> list[tuple[str, Any, bool]]:
        """List the properties a request sample sends, with their schemas.

        A sample sends every required property and each optional one that the
        document gives an example for. `readOnly` properties are never sent.

        Returns:
            `(name, schema, required)` for each property, in document order.
        """
        schema, _ = self.document.deref(schema)
        if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
            schema = self._merge_all_of(schema, (), where)
        if not isinstance(schema, dict):
            return []
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        chosen: list[tuple[str, Any, bool]] = []
        for name, property_schema in properties.items():
            resolved = self.document.resolve(property_schema)
            if isinstance(resolved, dict) and resolved.get("readOnly") is True:
                continue
            is_required = name in required
            if (
                is_required
                or has_explicit_example(property_schema)
                or has_explicit_example(resolved)
            ):
                chosen.append((name, property_schema, is_required))
        return chosen

    def _object(
        self, schema: dict[str, Any], stack: tuple[str, ...], depth: int, where: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, property_schema, _ in self.object_properties(schema, where):
            value = self._value(property_schema, stack, depth + 1, f"{where}.{name}")
            if value is not OMITTED:
                result[name] = value
        return result

    def _array(
        self, schema: dict[str, Any], stack: tuple[str, ...], depth: int, where: str
    ) -> list[Any]:
        item = self._value(schema.get("items"), stack, depth + 1, f"{where}[]")
        if item is OMITTED:
            return []
        count = max(1, _as_int(schema.get("minItems"), 1))
        maximum = schema.get("maxItems")
        if isinstance(maximum, int) and not isinstance(maximum, bool):
            count = min(count, maximum)
        return [item] * count


def _schema_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _as_int(value: Any, fallback: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return fallback


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """Return (low, high, low_exclusive, high_exclusive) in both OpenAPI 3.0 and 3.1 styles."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = high_open = False
    if isinstance(schema.get("exclusiveMinimum"), int | float) and not isinstance(
        schema.get("exclusiveMinimum"), bool
    ):
        low, low_open = schema["exclusiveMinimum"], True
    elif schema.get("exclusiveMinimum") is True:
        low_open = True
    if isinstance(schema.get("exclusiveMaximum"), int | float) and not isinstance(
        schema.get("exclusiveMaximum"), bool
    ):
        high, high_open = schema["exclusiveMaximum"], True
    elif schema.get("exclusiveMaximum") is True:
        high_open = True
    low = low if isinstance(low, int | float) and not isinstance(low, bool) else None
    high = high if isinstance(high, int | float) and not isinstance(high, bool) else None
    return low, high, low_open, high_open


def _integer(schema: dict[str, Any]) -> int:

    low, high, low_open, high_open = _bounds(schema)
    lowest = highest = None
    if low is not None:
        lowest = math.floor(low) + 1 if low_open else math.ceil(low)
    if high is not None:
        highest = math.ceil(high) - 1 if high_open else math.floor(high)
    value = 1
    if lowest is not None and value < lowest:
        value = lowest
    if highest is not None and value > highest:
        value = highest
    step = schema.get("multipleOf")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0 and value % step:
        value += step - value % step
        if highest is not None and value > highest:
            value -= step
    return int(value)


def _number(schema: dict[str, Any]) -> int | float:
    low, high, low_open, high_open = _bounds(schema)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        start = low if low is not None else step
        value = math.ceil(start / step) * step
        if low_open and low is not None and value <= low:
            value += step
        return value
    # 1.5 has no exact integer form, so every language serialises it the same way.
    value: float = 1.5
    if low is not None and (value < low or (low_open and value <= low)):
        value = low + 1 if high is None or low + 1 < high else (low + high) / 2
    if high is not None and (value > high or (high_open and value >= high)):
        value = high - 1 if low is None or high - 1 > low else (low + high) / 2
    return value


def _string(schema: dict[str, Any]) -> str:
    min_length = max(0, _as_int(schema.get("minLength"), 0))
    max_length = _as_int(schema.get("maxLength"), -1)
    candidates: list[str] = []
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        from_pattern = string_for_pattern(pattern)
        if from_pattern is not None:
            candidates.append(from_pattern)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in FORMAT_EXAMPLES:
        candidates.append(FORMAT_EXAMPLES[fmt])
    candidates.append(DEFAULT_STRING)
    for candidate in candidates:
        if len(candidate) >= min_length and (max_length < 0 or len(candidate) <= max_length):
            return candidate
    # Only the plain placeholder is bent to fit the length limits.
    length = len(DEFAULT_STRING) if max_length < 0 else min(len(DEFAULT_STRING), max_length)
    length = max(length, min_length)
    return (DEFAULT_STRING * (length // len(DEFAULT_STRING) + 1))[:length]


def string_for_pattern(pattern: str) -> str | None:
    """Return a short string that `pattern` matches, or None if none is found.

    The regex is walked node by node, taking the first choice of every class
    and alternation and the minimum count of every repeat. The result is then
    checked with `re.search`, because OpenAPI patterns are unanchored ECMA regexes.
    """
    try:
        parsed = sre_parse.parse(pattern)
        value = _walk(list(parsed))
    except (re.error, _Unsupported, RecursionError, OverflowError):
        return None
    if "\x00" in value or len(value) > 4096:
        return None
    try:
        return value if re.search(pattern, value) else None
    except re.error:
        return None


class _Unsupported(Exception):
    pass


_CATEGORY_CHARS = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_NOT_DIGIT: "a",
    sre_constants.CATEGORY_WORD: "a",
    sre_constants.CATEGORY_NOT_WORD: "-",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: "a",
}


def _walk(nodes: list[tuple[Any, Any]]) -> str:
    out: list[str] = []
    for op, argument in nodes:
        if op is sre_constants.LITERAL:
            out.append(chr(argument))
        elif op is sre_constants.NOT_LITERAL:
            out.append("a" if argument != ord("a") else "b")
        elif op is sre_constants.ANY:
            out.append("a")
        elif op is sre_constants.IN:
            out.append(_pick_from_class(argument))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            low, _high, body = argument
            if low > 1024:
                raise _Unsupported
            out.append(_walk(list(body)) * low)
        elif op is sre_constants.SUBPATTERN:
            out.append(_walk(list(argument[-1])))
        elif op is sre_constants.BRANCH:
            out.append(_walk(list(argument[1][0])))
        elif op is sre_constants.CATEGORY:
            out.append(_CATEGORY_CHARS.get(argument, "a"))
        elif op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            continue
        else:
            raise _Unsupported
    return "".join(out)


def _pick_from_class(items: list[tuple[Any, Any]]) -> str:
    if items and items[0][0] is sre_constants.NEGATE:
        excluded = items[1:]
        for candidate in "a0A_-b1":
            if not _class_contains(excluded, candidate):
                return candidate
        raise _Unsupported
    for op, argument in items:
        if op is sre_constants.LITERAL:
            return chr(argument)
        if op is sre_constants.RANGE:
            return chr(argument[0])
        if op is sre_constants.CATEGORY:
            return _CATEGORY_CHARS.get(argument, "a")
    raise _Unsupported


def _class_contains(items: list[tuple[Any, Any]], char: str) -> bool:
    code = ord(char)
    for op, argument in items:
        if op is sre_constants.LITERAL and argument == code:
            return True
        if op is sre_constants.RANGE and argument[0] <= code <= argument[1]:
            return True
        if op is sre_constants.CATEGORY and re.fullmatch(_category_regex(argument), char):
            return True
    return False


def _category_regex(category: Any) -> str:
    return {
        sre_constants.CATEGORY_DIGIT: r"\d",
        sre_constants.CATEGORY_NOT_DIGIT: r"\D",
        sre_constants.CATEGORY_WORD: r"\w",
        sre_constants.CATEGORY_NOT_WORD: r"\W",
        sre_constants.CATEGORY_SPACE: r"\s",
        sre_constants.CATEGORY_NOT_SPACE: r"\S",
    }.get(category, r"[^\s\S]")
