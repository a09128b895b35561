"""Security linter run over every rendered snippet.

Credentials come from environment variables and never appear in the code.
Requests go to https URLs only. TLS certificate and host name checks are never
turned off. No snippet uses `eval`, spawns a process or builds a shell command
from strings. Pattern rules look at the code with string literals and comments
blanked out, so a hostile value inside a literal cannot trigger (or hide) a
finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portal.snippets import escape

ENV_ACCESS_PATTERNS = {
    "curl": r"\$\{{{name}:\?",
    "python": r"os\.environ\[\"{name}\"\]",
    "javascript": r"\benv\(\"{name}\"\)",
    "go": r"\bmustEnv\(\"{name}\"\)",
    "java": r"\benv\(\"{name}\"\)",
    "csharp": r"\bEnv\(\"{name}\"\)",
}

# Patterns that disable certificate or host name verification in any of the languages.
TLS_PATTERNS = [
    (r"\bverify\s*=\s*False\b", "verify=False disables certificate checks"),
    (
        r"\bCERT_NONE\b|\bcheck_hostname\s*=\s*False|_create_unverified_context",
        "unverified SSL context",
    ),
    (
        r"(?<![\w-])(?:-[A-Za-z]*k[A-Za-z]*|--insecure|--proxy-insecure)(?![\w-])",
        "curl -k/--insecure",
    ),
    (
        r"\brejectUnauthorized\b|\bNODE_TLS_REJECT_UNAUTHORIZED\b|\bcheckServerIdentity\b",
        "Node TLS checks off",
    ),
    (r"\bInsecureSkipVerify\b", "Go InsecureSkipVerify"),
    (r"\b(?:X509)?TrustManager\b|\bHostnameVerifier\b|\btrustAll", "Java trust-all manager"),
    (
        r"\bServerCertificate(?:Custom)?ValidationCallback\b|\bRemoteCertificateValidationCallback\b"
        r"|\bDangerousAcceptAnyServerCertificateValidator\b",
        ".NET certificate validation callback",
    ),
    (r"\bPYTHONHTTPSVERIFY\b|\bCURL_CA_BUNDLE\b|\bSSL_CERT_FILE\b", "trust store override"),
]

EXEC_PATTERNS = {
    # Snippets import only the modules the templates need.
    "python": [
        r"\beval\s*\(",
        r"\bexec\s*\(",
        r"\bos\.(?:system|popen|exec\w*|spawn\w*)\b",
        r"\bsubprocess\b",
        r"__import__",
        r"\bpickle\b",
        r"^\s*(?:import|from)\s+(?!(?:os|httpx|json)\b)",
    ],
    "javascript": [
        r"\beval\s*\(",
        r"\bnew\s+Function\b",
        r"\bchild_process\b",
        r"\bexec(?:Sync)?\s*\(",
        r"\bvm\.\w+",
        r"^\s*import\b",
        r"\bimport\s*\(",
        r"\brequire\s*\(",
    ],
    "go": [r"\bexec\.Command\b", r"\bsyscall\.Exec\b"],
    "java": [r"\bRuntime\.getRuntime\(\)\.exec\b", r"\bProcessBuilder\b", r"\bScriptEngine\w*\b"],
    "csharp": [r"\bProcess\.Start\b", r"\bProcessStartInfo\b", r"\bCodeDomProvider\b"],
    "curl": [
        r"\beval\b",
        r"(?:^|[\s;|&(])(?:sh|bash|dash|zsh|ksh)\s+-\w*c",
        r"`",
        r"\bsource\b",
        r"(?:^|[\s;|&])\.\s",
        r"\|",
    ],
}

ENV_WRITE_PATTERNS = [
    r"os\.environ\[[^\]]*\]\s*=(?!=)",
    r"\bos\.putenv\b",
    r"process\.env(?:\.\w+|\[[^\]]*\])\s*=(?!=)",
    r"\bos\.Setenv\b",
    r"\bSystem\.setProperty\b",
    r"\bSetEnvironmentVariable\b",
    r"^\s*export\b",
]

LITERAL_AUTH = re.compile(r"(?i)\b(?:basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}")


@dataclass(frozen=True)
class Finding:
    """One rule violation in a snippet.

    Attributes:
        rule: Rule id: `credential`, `https`, `tls`, `exec` or `environment`.
        message: What is wrong and where.
        line: 1-based line of the snippet, or 0 for the snippet as a whole.
    """

    rule: str
    message: str
    line: int = 0


def code_only(language: str, code: str) -> str:
    """Return `code` with string literal contents and comments replaced by spaces.

    Newlines stay, so line numbers match. For the shell, single-quoted text and
    comments are blanked but double-quoted text is kept, because the shell
    expands `$` inside it.
    """
    out = list(code)
    index, length = 0, len(code)
    c_like = language in ("javascript", "go", "java", "csharp")
    hash_comments = language in ("python", "curl")

    def blank(start: int, end: int) -> None:
        for position in range(start, min(end, length)):
            if out[position] != "\n":
                out[position] = " "

    while index < length:
        char = code[index]
        if (
            hash_comments
            and char == "#"
            and (language != "curl" or index == 0 or code[index - 1] in " \t\n")
        ):
            end = code.find("\n", index)
            end = length if end < 0 else end
            blank(index, end)
            index = end
        elif c_like and code.startswith("//", index):
            end = code.find("\n", index)
            end = length if end < 0 else end
            blank(index, end)
            index = end
        elif c_like and code.startswith("/*", index):
            end = code.find("*/", index + 2)
            end = length if end < 0 else end + 2
            blank(index, end)
            index = end
        elif language == "curl" and char == "'":
            end = code.find("'", index + 1)
            end = length if end < 0 else end
            blank(index + 1, end)
            index = end + 1
        elif language == "curl" and char == "\\":
            index += 2
        elif language != "curl" and char in "\"'`":
            end = index + 1
            while end < length and code[end] != char:
                if code[end] == "\\" and not (language == "go" and char == "`"):
                    end += 1
                end += 1
            blank(index + 1, end)
            index = end + 1
        else:
            index += 1
    return "".join(out)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _escaped_forms(secret: str) -> set[str]:
    forms = {secret}
    for function in (
        escape.python_string,
        escape.javascript_string,
        escape.go_string,
        escape.java_string,
        escape.csharp_string,
    ):
        forms.add(function(secret)[1:-1])
    if "\x00" not in secret:
        forms.add(escape.shell_word(secret).strip("'"))
    return {form for form in forms if len(form) >= 4}


def lint_code(
    language: str,
    code: str,
    *,
    url: str | None = None,
    env_vars: Iterable[str] = (),
    secrets: Iterable[str] = (),
) -> list[Finding]:
    """Check one snippet's code against the security rules.

    Args:
        language: Language key, such as `python`.
        code: The snippet.
        url: The URL the snippet must send to; it must be https and appear in the code.
        env_vars: Environment variables the snippet must read its credentials from.
        secrets: Example credential values from the document that must not appear.

    Returns:
        Every finding; an empty list means the snippet passed.
    """
    findings: list[Finding] = []
    stripped = code_only(language, code)

    for secret in secrets:
        for form in _escaped_forms(secret):
            position = code.find(form)
            if position >= 0:
                findings.append(
                    Finding(
                        "credential",
                        "an example credential from the document is inlined",
                        _line_of(code, position),
                    )
                )
                break
    for name in env_vars:
        pattern = ENV_ACCESS_PATTERNS[language].format(name=re.escape(name))
        if not re.search(pattern, code):
            findings.append(
                Finding("credential", f"credential {name} is not read from the environment")
            )
    for match in LITERAL_AUTH.finditer(code):
        findings.append(
            Finding(
                "credential", "literal Authorization credentials", _line_of(code, match.start())
            )
        )
    if language == "curl" and re.search(r"(?:--user|-u)\s+'", code):
        findings.append(Finding("credential", "curl --user with a literal value"))

    if url is not None:
        if not url.startswith("https://"):
            findings.append(Finding("https", f"request URL {url!r} is not https"))
        if not any(form in code for form in escape_url_forms(url)):
            findings.append(Finding("https", f"the snippet does not send to {url!r}"))
    for match in re.finditer(r"\bhttp://", stripped):
        findings.append(
            Finding("https", "plain http URL in code", _line_of(stripped, match.start()))
        )
    if language == "curl" and "--proto '=https'" not in code:
        findings.append(
            Finding("https", "curl snippets must restrict protocols with --proto '=https'")
        )

    for pattern, message in TLS_PATTERNS:
        for match in re.finditer(pattern, stripped):
            findings.append(Finding("tls", message, _line_of(stripped, match.start())))

    exec_stripped = stripped
    if language == "curl":
        # The one command substitution shell_word writes: printf of octal escapes.
        exec_stripped = re.sub(r"\"\$\(printf ' *'\)\"", "", stripped)
        for match in re.finditer(r"\$\(", exec_stripped):
            findings.append(
                Finding(
                    "exec",
                    "command substitution other than printf",
                    _line_of(exec_stripped, match.start()),
                )
            )
    for pattern in EXEC_PATTERNS.get(language, []):
        for match in re.finditer(pattern, exec_stripped, flags=re.MULTILINE):
            findings.append(
                Finding(
                    "exec",
                    f"forbidden construct {match.group(0).strip()!r}",
                    _line_of(exec_stripped, match.start()),
                )
            )
    if language == "go" and re.search(r'^\s*(?:import\s+)?"os/exec"', code, flags=re.MULTILINE):
        findings.append(Finding("exec", "imports os/exec"))

    for pattern in ENV_WRITE_PATTERNS:
        for match in re.finditer(pattern, stripped, flags=re.MULTILINE):
            findings.append(
                Finding(
                    "environment",
                    "the snippet changes its environment",
                    _line_of(stripped, match.start()),
                )
            )
    return findings


def escape_url_forms(url: str) -> set[str]:
    """Return the ways `url` can appear in a snippet's source: raw and as each literal."""
    forms = {url}
    for function in (
        escape.python_string,
        escape.javascript_string,
        escape.go_string,
        escape.java_string,
        escape.csharp_string,
        escape.shell_word,
    ):
        forms.add(function(url))
    return forms
