"""Registry errors are classified as retryable or not, and never carry credentials."""

import json

import pytest

from portal.sdk.config import sdk_config
from portal.sdk.errors import PublishRejectedError, RegistryUnavailableError
from portal.sdk.publishers.git_tags import redact_url_credentials
from portal.sdk.publishers.npm import NpmPublisher
from portal.settings import load_settings


def npm_error(code: str, summary: str) -> str:
    return json.dumps({"error": {"code": code, "summary": summary, "detail": ""}})


@pytest.fixture
def npm(tmp_path):
    return NpmPublisher(sdk_config(load_settings(state_dir=tmp_path)))


@pytest.mark.parametrize("code", ["ECONNREFUSED", "ETIMEDOUT", "E503", "E429"])
def test_npm_outage_is_retryable(npm, code):
    error = npm._classify(npm_error(code, "request failed"), "")

    assert isinstance(error, RegistryUnavailableError)
    assert error.retryable
    assert code in error.message


@pytest.mark.parametrize(
    ("code", "summary"),
    [
        ("E403", "You cannot publish over the previously published versions: 1.0.0."),
        ("E409", "this package is already present"),
        ("", "You cannot publish over the previously published versions: 1.0.0."),
    ],
)
def test_npm_duplicate_is_read_again(npm, code, summary):
    error = npm._classify(npm_error(code, summary), "")

    assert isinstance(error, PublishRejectedError)
    assert error.maybe_exists


@pytest.mark.parametrize("code", ["E401", "ENEEDAUTH", "E400"])
def test_npm_rejection_is_final(npm, code):
    error = npm._classify(npm_error(code, "unauthorized"), "")

    assert isinstance(error, PublishRejectedError)
    assert not error.retryable
    assert not error.maybe_exists


def test_npm_without_json_uses_stderr(npm):
    error = npm._classify("", "npm error something odd\nnpm error last line\n")

    assert isinstance(error, RegistryUnavailableError)
    assert "npm error last line" in error.message


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "fatal: unable to access 'https://bot:ghp_secret@git.example/o/r.git/': 403",
            "fatal: unable to access 'https://***@git.example/o/r.git/': 403",
        ),
        ("ssh://git@git.example/o/r.git", "ssh://***@git.example/o/r.git"),
        ("file:///srv/git/verify-go.git", "file:///srv/git/verify-go.git"),
    ],
)
def test_git_urls_lose_credentials(text, redacted):
    assert redact_url_credentials(text) == redacted
