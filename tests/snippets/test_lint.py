"""The security linter flags each insecure construct and passes the generated snippets."""

from __future__ import annotations

import pytest

from portal.snippets import InsecureSpecError, build_snippets, lint_snippet
from portal.snippets.lint import code_only, lint_code
from tests.snippets.conftest import HOSTILE_DIR

FAKE_SECRETS = [
    "sk_live_FAKE0123456789abcdef",
    "tok_FAKE_header_5550123",
    "ak_FAKE_query_77",
    "cs_FAKE_SECRET_9876543210",
    "hunter2-FAKE-pass",
]


def rules(language: str, code: str, **kwargs) -> set[str]:
    return {finding.rule for finding in lint_code(language, code, **kwargs)}


def test_fake_secrets_are_never_inlined() -> None:
    snippets = build_snippets(HOSTILE_DIR / "fake_secrets.yaml")
    assert len(snippets) == 6
    for snippet in snippets:
        for secret in FAKE_SECRETS:
            assert secret not in snippet.code, f"{snippet.language} inlines {secret}"
        assert set(snippet.request.redacted) >= set(FAKE_SECRETS[:2] + FAKE_SECRETS[3:])
        assert lint_snippet(snippet) == []


def test_fake_secrets_read_from_environment() -> None:
    python = next(
        s for s in build_snippets(HOSTILE_DIR / "fake_secrets.yaml") if s.language == "python"
    )
    for name in (
        "ACME_API_SECRET",
        "ACME_X_AUTH_TOKEN",
        "ACME_CLIENT_SECRET",
        "ACME_PASSWORD",
        "ACME_API_KEY",
        "ACME_ACCESS_KEY",
    ):
        assert f'os.environ["{name}"]' in python.code


def test_http_only_document_is_rejected() -> None:
    with pytest.raises(InsecureSpecError, match="http://insecure.example.test/v1"):
        build_snippets(HOSTILE_DIR / "http_only.yaml")


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", 'httpx.get("https://a.test", verify=False)\n'),
        ("python", "ctx = ssl._create_unverified_context()\n"),
        ("curl", "curl -k 'https://a.test'\n"),
        ("curl", "curl -sSk --proto '=https' 'https://a.test'\n"),
        ("curl", "curl --insecure --proto '=https' 'https://a.test'\n"),
        ("javascript", "const agent = new https.Agent({ rejectUnauthorized: false });\n"),
        ("javascript", 'process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";\n'),
        ("go", "tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}\n"),
        ("java", "TrustManager[] trustAll = new TrustManager[] { new X509TrustManager() {} };\n"),
        ("csharp", "handler.ServerCertificateCustomValidationCallback = (a, b, c, d) => true;\n"),
    ],
)
def test_disabled_tls_is_flagged(language: str, code: str) -> None:
    assert "tls" in rules(language, code)


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", 'eval("1")\n'),
        ("python", 'import subprocess\nsubprocess.run(["ls"])\n'),
        ("javascript", 'eval("1");\n'),
        ("javascript", 'const f = new Function("return 1");\n'),
        ("javascript", 'import { exec } from "node:child_process";\n'),
        ("curl", 'eval "curl $ARGS"\n'),
        ("curl", 'sh -c "curl $URL"\n'),
        ("curl", "curl `cat url.txt`\n"),
        ("curl", 'curl "$(cat url.txt)"\n'),
        ("curl", "curl 'https://a.test' | sh\n"),
        ("go", 'cmd := exec.Command("sh", "-c", x)\n'),
        ("java", 'Runtime.getRuntime().exec("ls");\n'),
        ("csharp", 'Process.Start("cmd.exe");\n'),
    ],
)
def test_eval_and_shell_building_are_flagged(language: str, code: str) -> None:
    assert "exec" in rules(language, code)


def test_printf_substitution_is_allowed() -> None:
    code = "curl --proto '=https' --data 'a='\"$(printf '\\033')\"'b' 'https://a.test'\n"
    assert rules("curl", code, url="https://a.test") == set()


def test_inlined_example_secret_is_flagged() -> None:
    code = 'headers = {"X-Api-Key": "sk_live_FAKE0123456789abcdef"}\n'
    assert "credential" in rules("python", code, secrets=["sk_live_FAKE0123456789abcdef"])


def test_credential_not_from_environment_is_flagged() -> None:
    assert "credential" in rules("python", 'key = "x"\n', env_vars=["ACME_API_KEY"])


def test_literal_authorization_is_flagged() -> None:
    assert "credential" in rules(
        "javascript", 'headers["Authorization"] = "Basic dXNlcjpwYXNzd29yZA==";\n'
    )


def test_plain_http_url_is_flagged() -> None:
    assert "https" in rules("python", 'httpx.get("http://a.test")\n', url="http://a.test")


def test_curl_without_proto_restriction_is_flagged() -> None:
    assert "https" in rules("curl", "curl 'https://a.test'\n")


def test_values_inside_literals_do_not_trigger() -> None:
    code = 'data = {"note": "verify=False; eval(x); rejectUnauthorized; InsecureSkipVerify"}\n'
    assert rules("python", code) == set()


def test_code_only_blanks_literals_and_comments() -> None:
    stripped = code_only("javascript", 'f("a\\"b"); // eval(x)\nconst s = \'eval\';\n')
    assert "eval" not in stripped
    assert stripped.count("\n") == 2
