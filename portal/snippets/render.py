"""Rendering requests through the reviewed Jinja2 templates, with escaping enforced.

Templates are the only source of snippet code. Every `{{ ... }}` in a template
must end in an escaping filter of the template's own language: the
environment's `finalize` hook raises `UnescapedValueError` for any other
value, so a template change that prints a raw value fails at render time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from jinja2 import pass_context
from jinja2.runtime import Context

from portal.snippets import escape
from portal.snippets.errors import UnescapedValueError
from portal.snippets.languages import Language
from portal.snippets.model import EnvVar, FormBody, HttpRequest

TEMPLATES_DIR = Path(__file__).parent / "templates"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Keywords that a generated identifier must not be; generated names are
# UpperCamelCase, so only a few could ever collide.
RESERVED = frozenset(
    {"String", "Object", "Math", "System", "Console", "Environment", "Uri", "Task"}
)


class Escaped(str):
    """Source text produced by an escaping filter for one language."""

    language: str

    def __new__(cls, text: str, language: str) -> Escaped:
        instance = super().__new__(cls, text)
        instance.language = language
        return instance


@pass_context
def _require_escaped(context: Context, value: Any) -> Any:
    language = context.get("escaper")
    if isinstance(value, Escaped) and value.language == language:
        return value
    preview = repr(value)
    preview = preview if len(preview) <= 60 else preview[:57] + "..."
    raise UnescapedValueError(
        f"template {context.name}: {{{{ ... }}}} printed {preview} without a {language}_* escaping "
        "filter; end every expression with the template language's escaping filter"
    )


def _defined(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the missing variable.
    return value


def _string_filter(language: str, function: Callable[[str], str]) -> Callable[[Any], Escaped]:
    def apply(value: Any) -> Escaped:
        value = _defined(value)
        if isinstance(value, EnvVar):
            raise UnescapedValueError(
                f"{language}_str received the environment variable {value.name}; "
                "render it through the template's environment helper"
            )
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise UnescapedValueError(
                f"{language}_str expects a string, got {type(value).__name__}"
            )
        return Escaped(function(str(value)), language)

    return apply


def _comment_filter(language: str) -> Callable[[Any], Escaped]:
    def apply(value: Any) -> Escaped:
        text = escape.comment_text(str(_defined(value)))
        if language == "py":
            # A "coding:" declaration in a comment on line 1 or 2 changes the file encoding.
            text = re.sub(r"coding[:=]", "coding -", text)
        if language == "java":
            # javac turns a backslash-u sequence into a character even in comments.
            text = text.replace("\\", "\\\\")
        return Escaped(text, language)

    return apply


def _ident_filter(language: str) -> Callable[[Any], Escaped]:
    def apply(value: Any) -> Escaped:
        text = str(_defined(value))
        if not IDENTIFIER.match(text) or text in RESERVED:
            raise UnescapedValueError(f"{text!r} is not a safe {language} identifier")
        return Escaped(text, language)

    return apply


def _env_filter(language: str) -> Callable[[Any], Escaped]:
    def apply(value: Any) -> Escaped:
        name = value.name if isinstance(value, EnvVar) else str(value)
        if not ENV_NAME.match(name):
            raise UnescapedValueError(f"{name!r} is not a valid environment variable name")
        if language == "sh":
            # For use inside double quotes: the shell stops with this message if it is unset.
            return Escaped(f"${{{name}:?set the environment variable {name}}}", language)
        string = {
            "py": escape.python_string,
            "js": escape.javascript_string,
            "go": escape.go_string,
            "java": escape.java_string,
            "cs": escape.csharp_string,
        }[language]
        return Escaped(string(name), language)

    return apply


# Code that reads an environment variable in each language.
# Each template defines the helper it calls.
ENV_ACCESS = {
    "py": "os.environ[{name}]",
    "js": "env({name})",
    "go": "mustEnv({name})",
    "java": "env({name})",
    "cs": "Env({name})",
}


def _value_filter(language: str, function: Callable[[str], str]) -> Callable[[Any], Escaped]:
    env = _env_filter(language)
    string = _string_filter(language, function)

    def apply(value: Any) -> Escaped:
        if not isinstance(value, EnvVar):
            return string(value)
        if language == "sh":
            return Escaped(f'"{env(value)}"', language)
        return Escaped(ENV_ACCESS[language].format(name=env(value)), language)

    return apply


def _literal(
    value: Any, string: Callable[[str], str], names: tuple[str, str, str], level: int
) -> str:
    """Write a JSON value as a Python or JavaScript literal, indented by four spaces per level."""
    true, false, null = names
    pad, inner = "    " * level, "    " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{string(str(k))}: {_literal(v, string, names, level + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f",\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{_literal(v, string, names, level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f",\n{pad}]"
    if value is True:
        return true
    if value is False:
        return false
    if value is None:
        return null
    if isinstance(value, str):
        return string(value)
    if isinstance(value, int | float):
        return json.dumps(value)
    raise UnescapedValueError(f"cannot write {type(value).__name__} as a literal")


def _py_json(value: Any, level: int = 0) -> Escaped:
    return Escaped(_literal(value, escape.python_string, ("True", "False", "None"), level), "py")


def _js_json(value: Any, level: int = 0) -> Escaped:
    return Escaped(
        _literal(value, escape.javascript_string, ("true", "false", "null"), level), "js"
    )


def percent_encode(value: str) -> str:
    """Percent-encode all but RFC 3986 unreserved characters (a transform, not an escaper)."""
    return quote(value, safe="-._~")


def grouped(pairs: tuple[tuple[str, Any], ...]) -> list[tuple[str, list[Any]]]:
    """Group name and value pairs by name, in first-appearance order, for dict-based APIs."""
    groups: dict[str, list[Any]] = {}
    for name, value in pairs:
        groups.setdefault(name, []).append(value)
    return list(groups.items())


def create_environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """Return the Jinja2 environment every snippet template renders in.

    Args:
        loader: Template loader; the package's `templates` folder by default.
            Tests pass their own to prove that raw interpolation fails.
    """
    environment = jinja2.Environment(
        loader=loader or jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        finalize=_require_escaped,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    strings = {
        "sh": escape.shell_word,
        "py": escape.python_string,
        "js": escape.javascript_string,
        "go": escape.go_string,
        "java": escape.java_string,
        "cs": escape.csharp_string,
    }
    for language, function in strings.items():
        environment.filters[f"{language}_str"] = _string_filter(language, function)
        environment.filters[f"{language}_comment"] = _comment_filter(language)
        environment.filters[f"{language}_env"] = _env_filter(language)
        environment.filters[f"{language}_ident"] = _ident_filter(language)
        environment.filters[f"{language}_value"] = _value_filter(language, function)
    environment.filters["py_json"] = _py_json
    environment.filters["js_json"] = _js_json
    environment.filters["percent_encode"] = percent_encode
    environment.filters["grouped"] = grouped
    environment.tests["env"] = lambda value: isinstance(value, EnvVar)
    environment.tests["form"] = lambda value: isinstance(value, FormBody)
    return environment


_ENVIRONMENT: jinja2.Environment | None = None


def render(
    request: HttpRequest, language: Language, environment: jinja2.Environment | None = None
) -> str:
    """Render the snippet of `request` in `language`.

    Raises:
        UnescapedValueError: If the template prints a value without escaping it,
            or the output lacks the template's version header.
    """
    global _ENVIRONMENT
    if environment is None:
        if _ENVIRONMENT is None:
            _ENVIRONMENT = create_environment()
        environment = _ENVIRONMENT
    template = environment.get_template(language.template)
    code = template.render(request=request, language=language, escaper=language.escaper)
    if language.header not in "\n".join(code.splitlines()[:3]):
        raise UnescapedValueError(
            f"template {language.template} must start with the header {language.header!r}"
        )
    return code
