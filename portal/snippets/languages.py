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
        Language(
            "curl",
            "curl",
            "curl.sh.j2",
            1,
            "2fc525c0ee4c2e58607b4b65ed81272a7540fc6b3ebb451165d1091d2dfde5f2",
            "sh",
            "sh",
        ),
        Language(
            "python",
            "Python",
            "python.py.j2",
            1,
            "55460eb142d084eeaf59c461842e3a5ff22dbe5efcf576bbfd288ebfc91c372b",
            "py",
            "py",
        ),
        Language(
            "javascript",
            "JavaScript",
            "javascript.mjs.j2",
            1,
            "19bd0dd84bdda29e1dcf04c0ca1b66c9a5d072fadc1b306ae8a150ec4f4ec119",
            "js",
            "mjs",
        ),
        Language(
            "go",
            "Go",
            "go.go.j2",
            1,
            "40550b822e783f233021a35995c8d4e3824e5749d14330d85563318ed0b958b5",
            "go",
            "go",
        ),
        Language(
            "java",
            "Java",
            "java.java.j2",
            1,
            "587de21d1567c0f3ea33047792e97376b3c4a1f27193ce0de1c30a0ce4e54502",
            "java",
            "java",
        ),
        Language(
            "csharp",
            "C#",
            "csharp.cs.j2",
            1,
            "d5fc7a47b6c9f8389089c5da417881576c13705c6a845b24402c183d56faba73",
            "cs",
            "cs",
        ),
    )
}
