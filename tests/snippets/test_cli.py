"""The `snippets build` command writes every snippet and an index."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from portal.snippets.cli import snippets_app
from tests.snippets.conftest import HOSTILE_DIR


def test_build_writes_snippets_and_index(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        snippets_app, ["build", str(HOSTILE_DIR / "refs.yaml"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert len(index) == 6
    for entry in index:
        assert (tmp_path / entry["file"]).is_file()
    assert (tmp_path / "java" / "CreateTreeExample.java").is_file()
    assert (tmp_path / "go" / "create_tree" / "main.go").is_file()


def test_build_reports_insecure_document(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        snippets_app, ["build", str(HOSTILE_DIR / "http_only.yaml"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "http://insecure.example.test/v1" in result.output
    assert not (tmp_path / "index.json").exists()


def test_build_rejects_unknown_language(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        snippets_app,
        ["build", str(HOSTILE_DIR / "refs.yaml"), "--out", str(tmp_path), "-l", "cobol"],
    )
    assert result.exit_code == 2
    assert "cobol" in result.output
