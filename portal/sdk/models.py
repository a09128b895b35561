"""Data that SDK release workflows, activities, the API and the CLI exchange.

Everything here travels through Temporal history as JSON, so it carries
versions, checksums, registry locations and error messages, never a
registry password or tracker token.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from portal.sdk.languages import ALL_LANGUAGES, Language
from portal.sdk.versions import VERSION_PATTERN


class ReleaseState(StrEnum):
    """State of a release, also stored in the `PortalReleaseState` search attribute."""

    PUBLISHING = "publishing"
    PARTIAL = "partial"
    PUBLISHED = "published"
    ABANDONED = "abandoned"
    REJECTED = "rejected"


FINAL_STATES = frozenset({ReleaseState.PUBLISHED, ReleaseState.ABANDONED, ReleaseState.REJECTED})


class LanguageState(StrEnum):
    """Progress of one language within a release."""

    PENDING = "pending"
    BUILDING = "building"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    ABANDONED = "abandoned"


class StagedFile(BaseModel):
    """One artifact file in the staging bucket, with the checksums registries use."""

    name: str
    key: str
    size: int
    sha256: str
    sha1: str
    md5: str
    sha512: str


class StagedArtifact(BaseModel):
    """One language's artifact of a release: its files as built and staged."""

    language: Language
    version: str
    registry_version: str
    package: str = Field(description="Package name, module path or Maven coordinates.")
    files: list[StagedFile]

    @property
    def primary(self) -> StagedFile:
        """The file users install: wheel, npm tarball, module zip or jar."""
        return self.files[0]


class BuildInput(BaseModel):
    """Input of the build-and-stage activity."""

    language: Language
    version: str = Field(pattern=VERSION_PATTERN)


class PublishOutcome(BaseModel):
    """Result of publishing one artifact to its registry."""

    language: Language
    version: str
    already_present: bool = Field(
        description="True when the registry held this version with the same content already."
    )
    location: str = Field(description="Where users fetch it: index URL, tag, or object key.")


class RegistryReading(BaseModel):
    """The latest release version a registry holds, as the version skew check reads it."""

    language: Language
    latest: str | None = None
    reachable: bool = True
    error: str | None = None


class VersionCheck(BaseModel):
    """Latest version per registry at the time a release was validated."""

    version: str
    readings: list[RegistryReading]


class IssueRef(BaseModel):
    """An issue in the tracker."""

    number: int
    url: str


class LanguageStatus(BaseModel):
    """State of one language within a release."""

    language: Language
    state: LanguageState = LanguageState.PENDING
    already_present: bool = False
    location: str | None = None
    error_type: str | None = None
    error: str | None = None
    sha256: str | None = None
    updated_at: datetime | None = None


class ReleaseStatus(BaseModel):
    """State of a release and of each of its languages."""

    version: str
    state: ReleaseState
    languages: dict[Language, LanguageStatus]
    requested_by: str
    workflow_id: str
    issue: IssueRef | None = None
    reason: str | None = Field(None, description="Why the release was abandoned or rejected.")
    rounds: int = Field(0, description="Publish rounds run: the first one, then one per retry.")
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def missing(self) -> list[Language]:
        """Return the languages not yet published, in canonical order."""
        return [
            language
            for language in ALL_LANGUAGES
            if language in self.languages
            and self.languages[language].state is not LanguageState.PUBLISHED
        ]


class PublishPolicy(BaseModel):
    """Retry and timeout settings of the publish activities, fixed when a release starts."""

    max_attempts: int = Field(5, ge=1, le=100)
    initial_interval_seconds: float = Field(2.0, gt=0)
    max_interval_seconds: float = Field(60.0, gt=0)
    heartbeat_timeout_seconds: float = Field(30.0, gt=0)
    publish_timeout_seconds: float = Field(300.0, gt=0)


class SdkReleaseInput(BaseModel):
    """Input of SdkReleaseWorkflow."""

    version: str = Field(pattern=VERSION_PATTERN)
    requested_by: str = Field(min_length=1, max_length=200)
    languages: list[Language] = Field(default_factory=lambda: list(ALL_LANGUAGES), min_length=1)
    policy: PublishPolicy = Field(default_factory=PublishPolicy)


class RetryRequest(BaseModel):
    """DevRel's request to publish the missing languages of a partial release again."""

    languages: list[Language] = Field(
        default_factory=list, description="Languages to retry; empty means every missing one."
    )
    requested_by: str = Field(min_length=1, max_length=200)


class AbandonRequest(BaseModel):
    """DevRel's request to close a partial release without the missing languages."""

    reason: str = Field(min_length=3, max_length=2000)
    requested_by: str = Field(min_length=1, max_length=200)


class MissingLanguage(BaseModel):
    """A language a partial release could not publish, with the last error."""

    language: Language
    error_type: str | None = None
    error: str | None = None


class PartialReleaseIssueInput(BaseModel):
    """Input of the activity that files the one issue of a partial release."""

    version: str
    workflow_id: str
    missing: list[MissingLanguage]
    published: list[Language]


class ReleaseIssueNote(BaseModel):
    """A comment on a release's issue, posted once per `marker`."""

    version: str
    issue: IssueRef
    marker: str = Field(pattern=r"^[a-z0-9-]+$")
    body: str
    close_as: str | None = Field(
        None, pattern=r"^(completed|not_planned)$", description="Close the issue with this reason."
    )


class VersionSkewInput(BaseModel):
    """Input of VersionSkewWorkflow."""

    languages: list[Language] = Field(default_factory=lambda: list(ALL_LANGUAGES), min_length=1)


class VersionSkewReport(BaseModel):
    """Latest version per registry and whether they disagree."""

    readings: list[RegistryReading]
    skewed: bool
    partial_releases: int = 0
