"""Every snippet of the shared and hostile documents parses or compiles with its own tools."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from portal.snippets import LANGUAGES, Snippet, build_snippets, lint_snippet
from tests.snippets import toolchains
from tests.snippets.conftest import ALL_SPECS, load_spec


@functools.cache
def snippets_of(spec_id: str) -> tuple[Snippet, ...]:
    document, prefix = load_spec(spec_id)
    return tuple(build_snippets(document, env_prefix=prefix))


def write(snippets: list[Snippet], folder: Path) -> list[Path]:
    paths = []
    for snippet in snippets:
        path = folder / snippet.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(snippet.code, encoding="utf-8")
        paths.append(path)
    return paths


def of_language(spec_id: str, language: str) -> list[Snippet]:
    return [snippet for snippet in snippets_of(spec_id) if snippet.language == language]


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_every_operation_in_every_language(spec_id: str) -> None:
    document, _ = load_spec(spec_id)
    operations = [
        (method, path)
        for path, item in document.root["paths"].items()
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
        if isinstance(document.resolve(item), dict) and method in document.resolve(item)
    ]
    snippets = snippets_of(spec_id)
    assert len(snippets) == len(operations) * len(LANGUAGES)
    for language in LANGUAGES:
        covered = {(s.method.lower(), s.path) for s in snippets if s.language == language}
        assert covered == set(operations), f"{language} misses operations"


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_snippets_pass_security_linter(spec_id: str) -> None:
    for snippet in snippets_of(spec_id):
        assert lint_snippet(snippet) == [], f"{snippet.operation_id} [{snippet.language}]"


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_snippets_carry_template_version(spec_id: str) -> None:
    for snippet in snippets_of(spec_id):
        header = LANGUAGES[snippet.language].header
        assert header in "\n".join(snippet.code.splitlines()[:3])
        assert snippet.template_version == LANGUAGES[snippet.language].version


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_curl_parses_in_bash_and_dash(spec_id: str, tmp_path: Path) -> None:
    files = write(of_language(spec_id, "curl"), tmp_path)
    assert toolchains.check_shell(files) == {}


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_python_parses(spec_id: str, tmp_path: Path) -> None:
    files = write(of_language(spec_id, "python"), tmp_path)
    assert toolchains.check_python(files) == {}


@pytest.mark.parametrize("spec_id", sorted(ALL_SPECS))
def test_javascript_parses_with_node(spec_id: str, tmp_path: Path) -> None:
    files = write(of_language(spec_id, "javascript"), tmp_path)
    assert toolchains.check_javascript(files) == {}


def test_go_formats_and_vets(tmp_path: Path) -> None:
    toolchains.require_tool("go")
    for spec_id in sorted(ALL_SPECS):
        folder = tmp_path / spec_id.replace("-", "_")
        write(of_language(spec_id, "go"), folder)
        assert toolchains.check_go(folder) == "", spec_id


def test_java_compiles(tmp_path: Path) -> None:
    toolchains.require_tool("javac")
    for spec_id in sorted(ALL_SPECS):
        folder = tmp_path / spec_id
        files = write(of_language(spec_id, "java"), folder)
        assert toolchains.check_java(files, folder / "classes") == "", spec_id


def test_csharp_compiles_with_mcs(tmp_path: Path) -> None:
    toolchains.require_tool("mcs")
    for spec_id in sorted(ALL_SPECS):
        folder = tmp_path / spec_id
        files = write(of_language(spec_id, "csharp"), folder)
        assert toolchains.check_csharp(files, folder / "snippets.dll") == "", spec_id
