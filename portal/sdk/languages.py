"""The SDK languages and the registry each one ships to."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """An SDK language; the value is its name in metrics, ids and the API."""

    PYTHON = "python"
    TYPESCRIPT = "typescript"
    GO = "go"
    JAVA = "java"


ALL_LANGUAGES: tuple[Language, ...] = tuple(Language)

REGISTRY_NAMES: dict[Language, str] = {
    Language.PYTHON: "PyPI index",
    Language.TYPESCRIPT: "npm registry",
    Language.GO: "Go module git repository",
    Language.JAVA: "Maven repository on S3",
}


def parse_languages(names: list[str] | None) -> list[Language]:
    """Return the languages named in `names`, in canonical order; every language when empty.

    Raises:
        ValueError: naming an unknown language and the accepted ones.
    """
    if not names:
        return list(ALL_LANGUAGES)
    unknown = [name for name in names if name not in Language.__members__.values()]
    if unknown:
        accepted = ", ".join(ALL_LANGUAGES)
        raise ValueError(f"unknown language {', '.join(unknown)}; use one of {accepted}")
    requested = set(names)
    return [language for language in ALL_LANGUAGES if language in requested]
