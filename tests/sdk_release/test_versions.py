"""Release version rules and how each registry spells a version."""

import pytest

from portal.sdk.languages import Language, parse_languages
from portal.sdk.versions import (
    InvalidVersionError,
    VersionTooLowError,
    check_not_lower,
    from_registry_version,
    max_version,
    parse_version,
    registry_version,
)


@pytest.mark.parametrize("text", ["1.0.0", "0.1.0", "10.20.30", "1.2.0-alpha.0", "1.2.0-rc.12"])
def test_valid_versions_parse(text):
    assert str(parse_version(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "v1.2.3",
        "01.2.3",
        "1.2.3-beta",
        "1.2.3-preview.1",
        "1.2.3+build.5",
        "",
        " 1.2.3",
        "1.2.3\n",
        "1\u0663.0.0",
        "1.0.0-rc.1\u0663",
    ],
)
def test_invalid_versions_rejected(text):
    with pytest.raises(InvalidVersionError, match="MAJOR.MINOR.PATCH"):
        parse_version(text)


def test_lower_version_rejected_with_latest():
    with pytest.raises(VersionTooLowError) as caught:
        check_not_lower("1.9.0", "1.10.0", "the npm registry")
    assert caught.value.latest == "1.10.0"
    assert "lower than 1.10.0, the latest in the npm registry" in str(caught.value)


@pytest.mark.parametrize("latest", [None, "1.2.0", "1.2.0-rc.1", "1.1.9"])
def test_same_or_higher_version_allowed(latest):
    check_not_lower("1.2.0", latest, "recorded releases")


def test_prerelease_sorts_below_release():
    assert max_version(["1.2.0-rc.1", "1.2.0", "1.2.0-beta.3"]) == "1.2.0"
    assert max_version(["1.9.0", "1.10.0"]) == "1.10.0"
    assert max_version([]) is None


@pytest.mark.parametrize(
    ("language", "version", "spelled"),
    [
        (Language.PYTHON, "1.2.0", "1.2.0"),
        (Language.PYTHON, "1.2.0-rc.1", "1.2.0rc1"),
        (Language.PYTHON, "1.2.0-alpha.3", "1.2.0a3"),
        (Language.TYPESCRIPT, "1.2.0-beta.2", "1.2.0-beta.2"),
        (Language.GO, "1.2.0", "v1.2.0"),
        (Language.JAVA, "1.2.0-rc.1", "1.2.0-rc.1"),
    ],
)
def test_registry_spelling_round_trips(language, version, spelled):
    assert registry_version(language, version) == spelled
    assert from_registry_version(language, spelled) == version


@pytest.mark.parametrize(
    ("language", "spelled"),
    [
        (Language.PYTHON, "1.2.0.post1"),
        (Language.PYTHON, "1.2.0.dev3"),
        (Language.PYTHON, "1.2.3.4"),
        (Language.GO, "v0.0.0-20240101000000-abcdefabcdef"),
        (Language.GO, "1.2.0"),
        (Language.JAVA, "1.2.0-SNAPSHOT"),
    ],
)
def test_foreign_registry_versions_ignored(language, spelled):
    assert from_registry_version(language, spelled) is None


def test_languages_parse_in_canonical_order():
    assert parse_languages(["java", "python"]) == [Language.PYTHON, Language.JAVA]
    assert parse_languages(None) == list(Language)
    with pytest.raises(ValueError, match="unknown language ruby"):
        parse_languages(["ruby"])
