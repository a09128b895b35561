"""The template environment rejects unescaped values, and templates are versioned."""

from __future__ import annotations

import hashlib

import jinja2
import pytest

from portal.snippets import LANGUAGES, UnescapedValueError
from portal.snippets.model import BasicAuth, EnvVar, FormBody, HttpRequest
from portal.snippets.render import TEMPLATES_DIR, create_environment, render

REQUEST = HttpRequest(
    operation_id="sendMessage",
    name="SendMessage",
    summary="Send a message",
    method="POST",
    path_template="/messages",
    base_url="https://api.example.test",
    path="/messages",
    headers=(("Accept", "application/json"),),
    auth=BasicAuth(EnvVar("ACME_USERNAME"), EnvVar("ACME_PASSWORD")),
    content_type="application/x-www-form-urlencoded",
    body=FormBody((("Body", "it's $(id)"),)),
)
PYTHON = LANGUAGES["python"]


def render_source(source: str, language: str = "py") -> str:
    environment = create_environment(jinja2.DictLoader({"t": source}))
    return environment.get_template("t").render(request=REQUEST, escaper=language)


def test_raw_interpolation_is_rejected() -> None:
    with pytest.raises(UnescapedValueError, match="without a py_"):
        render_source("print({{ request.body.fields[0][1] }})")


def test_literal_expression_is_rejected() -> None:
    with pytest.raises(UnescapedValueError):
        render_source('{{ "constant" }}')


def test_other_language_filter_is_rejected() -> None:
    with pytest.raises(UnescapedValueError, match="py_"):
        render_source("{{ request.summary|sh_str }}")


def test_concatenated_escaped_value_is_rejected() -> None:
    with pytest.raises(UnescapedValueError):
        render_source('{{ request.summary|py_str ~ "x" }}')


def test_env_var_in_string_filter_is_rejected() -> None:
    with pytest.raises(UnescapedValueError, match="ACME_USERNAME"):
        render_source("{{ request.auth.username|py_str }}")


def test_undefined_value_is_rejected() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_source("{{ request.missing|py_str }}")


def test_escaped_value_renders() -> None:
    assert render_source("x = {{ request.body.fields[0][1]|py_str }}") == 'x = "it\'s $(id)"'


def test_modified_template_with_raw_value_fails(tmp_path) -> None:
    """A reviewed template changed to print a value unescaped breaks rendering."""
    source = (TEMPLATES_DIR / PYTHON.template).read_text(encoding="utf-8")
    tampered = source.replace("{{ request.url|py_str }}", '"{{ request.url }}"', 1)
    assert tampered != source
    environment = create_environment(jinja2.DictLoader({PYTHON.template: tampered}))
    with pytest.raises(UnescapedValueError, match="request.url|https://api.example.test"):
        render(REQUEST, PYTHON, environment)


@pytest.mark.parametrize("key", sorted(LANGUAGES))
def test_template_renders_version_header(key: str) -> None:
    language = LANGUAGES[key]
    code = render(REQUEST, language)
    assert (
        f"devportal-snippet template={key} v{language.version}"
        in code.splitlines()[1] + code.splitlines()[0]
    )


@pytest.mark.parametrize("key", sorted(LANGUAGES))
def test_template_hash_matches_reviewed_version(key: str) -> None:
    language = LANGUAGES[key]
    digest = hashlib.sha256((TEMPLATES_DIR / language.template).read_bytes()).hexdigest()
    assert digest == language.template_sha256, (
        f"{language.template} changed: after review, bump its version (now v{language.version}) "
        f"in portal/snippets/languages.py and set template_sha256={digest!r}"
    )


def test_header_check_rejects_template_without_version() -> None:
    environment = create_environment(jinja2.DictLoader({PYTHON.template: "print(1)\n"}))
    with pytest.raises(UnescapedValueError, match="header"):
        render(REQUEST, PYTHON, environment)
