"""The snippet languages: template file, reviewed template version and file naming."""

from __future__ import annotations

from dataclasses import dataclass

from portal.snippets.credentials import words


@dataclass(frozen=True)
class Language:
    """One snippet language.

    Attributes:
        key: Identifier used in the API, the CLI and file paths, such as `python`.
        label: Name shown to readers.
        template: File name under `portal/snippets/templates/`.
        version: Version of the reviewed template. Bump it, and record the new
            `template_sha256`, with every change to the template file, so each
            snippet's header names the template it came from.
        template_sha256: SHA-256 of the reviewed template file; a test compares it.
        escaper: Prefix of the Jinja filters that escape values for this language.
        extension: File name extension of a written snippet.
    """

    key: str
    label: str
    template: str
    version: int
    template_sha256: str
    escaper: str
    extension: str

    @property
    def header(self) -> str:
        """The marker every snippet of this language carries, such as `template=python v1`."""
        return f"devportal-snippet template={self.key} v{self.version}"

    def filename(self, request_name: str) -> str:
        """Return the file name of the snippet for the operation named `request_name`."""
        if self.key in ("java", "csharp"):
            return f"{request_name}Example.{self.extension}"
        if self.key == "go":
            return f"{snake_case(request_name)}/main.go"
        return f"{snake_case(request_name)}.{self.extension}"


def snake_case(name: str) -> str:
    """Return `name` in lower snake case, such as `create_verification`."""
    return "_".join(words(name)) or "operation"


LANGUAGES: dict[str, Language] = {
    language.key: language
    for language in (
        Language("curl", "curl", "curl.sh.j2", 1, "", "sh", "sh"),
        Language("python", "Python", "python.py.j2", 1, "", "py", "py"),
        Language("javascript", "JavaScript", "javascript.mjs.j2", 1, "", "js", "mjs"),
        Language("go", "Go", "go.go.j2", 1, "", "go", "go"),
        Language("java", "Java", "java.java.j2", 1, "", "java", "java"),
        Language("csharp", "C#", "csharp.cs.j2", 1, "", "cs", "cs"),
    )
}
