"""SdkReleaseWorkflow: publish one SDK version to every registry, or report which failed.

The release validates the version, builds and stages every artifact, then
publishes all languages in parallel with retries and confirms each one is
visible. When some languages still fail (F5, a partial release), it turns
`partial`, counts it, files exactly one issue, and waits for DevRel to
retry the missing languages or abandon the release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.issue_tracker import IssueTrackerActivities
    from activities.registries import RegistryActivities
    from activities.sdk_artifacts import SdkArtifactActivities
    from activities.sdk_records import SdkRecordActivities
    from portal.sdk.errors import NON_RETRYABLE_TYPES
    from portal.sdk.languages import Language
    from portal.sdk.models import (
        AbandonRequest,
        BuildInput,
        LanguageState,
        LanguageStatus,
        MissingLanguage,
        PartialReleaseIssueInput,
        ReleaseIssueNote,
        ReleaseState,
        ReleaseStatus,
        RetryRequest,
        SdkReleaseInput,
        StagedArtifact,
    )
    from portal.temporal import SA_RELEASE_STATE

# Bookkeeping activities (records, metrics, the tracker) retry for a while.
# `_bookkeeping` logs a final failure instead of failing the release.
_BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
_BOOKKEEPING_TIMEOUT = timedelta(seconds=30)


def release_workflow_id(version: str) -> str:
    """Return the id of the release workflow of `version`."""
    return f"sdk-release-{version}"


def _failure(exc: ActivityError) -> tuple[str, str]:
    """Return the error type and message of the last attempt of a failed activity."""
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError", cause.message
    if isinstance(cause, TimeoutError):
        return "Timeout", f"activity timed out ({cause.type.name if cause.type else 'unknown'})"
    return type(cause).__name__ if cause else "ActivityError", str(cause or exc)


@workflow.defn
class SdkReleaseWorkflow:
    """Publishes one SDK version in every language; partial releases wait for DevRel."""

    @workflow.init
    def __init__(self, params: SdkReleaseInput) -> None:
        self._params = params
        # Built here, so a query that arrives before the first step lists every language.
        self._status = ReleaseStatus(
            version=params.version,
            state=ReleaseState.PUBLISHING,
            languages={
                language: LanguageStatus(language=language) for language in params.languages
            },
            requested_by=params.requested_by,
            workflow_id=workflow.info().workflow_id,
            started_at=workflow.now(),
        )
        self._artifacts: dict[Language, StagedArtifact] = {}
        self._retry: RetryRequest | None = None
        self._abandon: AbandonRequest | None = None
        self._settled_rounds = 0
        self._counted_partial = False
        self._abandoned = False

    @workflow.run
    async def run(self, params: SdkReleaseInput) -> ReleaseStatus:
        workflow.logger.info(
            "sdk release started version=%s languages=%s requested_by=%s",
            params.version,
            ",".join(params.languages),
            params.requested_by,
        )
        self._show_progress()

        # Check the registries themselves: another release may have landed
        # since the API compared the version with the recorded releases.
        try:
            await workflow.execute_activity_method(
                RegistryActivities.check_release_version,
                params.version,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(
                    maximum_attempts=3, non_retryable_error_types=["VersionTooLowError"]
                ),
            )
        except ActivityError as exc:
            return await self._reject(_failure(exc)[1])

        # Build every artifact before publishing any, so a build failure
        # leaves every registry untouched instead of making a partial release.
        try:
            await asyncio.gather(*(self._build(language) for language in params.languages))
        except ActivityError as exc:
            return await self._reject(f"build failed: {_failure(exc)[1]}")

        # Publish all languages in parallel, each with its own retries.
        await self._publish_round(params.languages)

        while self._status.missing():
            await self._settle_partial()
            await workflow.wait_condition(
                lambda: self._retry is not None or self._abandon is not None
            )
            if self._abandon is not None:
                await self._finish_abandoned(self._abandon)
                break

            # Retry what DevRel asked for, once the registry is fixed.
            retry, self._retry = self._retry, None
            assert retry is not None
            workflow.logger.info(
                "sdk release retry version=%s languages=%s requested_by=%s",
                params.version,
                ",".join(retry.languages) or "all missing",
                retry.requested_by,
            )
            await self._publish_round(retry.languages or self._status.missing())
        else:
            await self._finish_published()

        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.query
    def status(self) -> ReleaseStatus:
        """Return the release's state and each language's."""
        return self._status

    @workflow.update
    async def retry(self, request: RetryRequest) -> ReleaseStatus:
        """Publish the missing languages again; return the state once that round settles."""
        round_number = self._status.rounds + 1
        self._retry = request
        await workflow.wait_condition(lambda: self._settled_rounds >= round_number)
        return self._status

    @retry.validator
    def _validate_retry(self, request: RetryRequest) -> None:
        self._require_partial("retried")
        missing = self._status.missing()
        extra = [language for language in request.languages if language not in missing]
        if extra:
            raise ValueError(
                f"{', '.join(extra)} not missing from release {self._params.version}; "
                f"missing: {', '.join(missing)}"
            )

    @workflow.update
    async def abandon(self, request: AbandonRequest) -> ReleaseStatus:
        """Close the partial release without its missing languages; return the final state."""
        self._abandon = request
        await workflow.wait_condition(lambda: self._abandoned)
        return self._status

    @abandon.validator
    def _validate_abandon(self, request: AbandonRequest) -> None:
        self._require_partial("abandoned")

    def _require_partial(self, action: str) -> None:
        status = self._status
        if status is None or status.state is not ReleaseState.PARTIAL:
            state = status.state if status else "starting"
            raise ValueError(
                f"release {self._params.version} is {state}; only a partial release can be {action}"
            )
        if self._retry is not None or self._abandon is not None:
            raise ValueError(
                f"release {self._params.version} is already handling a retry or abandon request"
            )

    async def _build(self, language: Language) -> None:
        self._language(language, LanguageState.BUILDING)
        policy = self._params.policy
        artifact = await workflow.execute_activity_method(
            SdkArtifactActivities.build_and_stage_artifact,
            BuildInput(language=language, version=self._params.version),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=policy.heartbeat_timeout_seconds),
            retry_policy=RetryPolicy(
                maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE_TYPES
            ),
        )
        self._artifacts[language] = artifact
        self._language(language, LanguageState.PENDING, sha256=artifact.primary.sha256)

    async def _publish_round(self, languages: list[Language]) -> None:
        self._status.rounds += 1
        self._set_state(ReleaseState.PUBLISHING)
        await asyncio.gather(*(self._publish(language) for language in languages))

    async def _publish(self, language: Language) -> None:
        policy = self._params.policy
        retry_policy = RetryPolicy(
            initial_interval=timedelta(seconds=policy.initial_interval_seconds),
            maximum_interval=timedelta(seconds=policy.max_interval_seconds),
            maximum_attempts=policy.max_attempts,
            non_retryable_error_types=NON_RETRYABLE_TYPES,
        )
        artifact = self._artifacts[language]
        self._language(language, LanguageState.PUBLISHING, error_type=None, error=None)
        try:
            outcome = await workflow.execute_activity_method(
                RegistryActivities.publish_artifact,
                artifact,
                start_to_close_timeout=timedelta(seconds=policy.publish_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=policy.heartbeat_timeout_seconds),
                retry_policy=retry_policy,
            )

            # Registries may serve an upload from a cache or index a moment
            # later; the language counts only once users can fetch it.
            await workflow.execute_activity_method(
                RegistryActivities.confirm_published,
                artifact,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=retry_policy,
            )
        except ActivityError as exc:
            error_type, message = _failure(exc)
            workflow.logger.warning(
                "language failed version=%s language=%s error_type=%s",
                self._params.version,
                language,
                error_type,
            )
            self._language(language, LanguageState.FAILED, error_type=error_type, error=message)
            return
        self._language(
            language,
            LanguageState.PUBLISHED,
            already_present=outcome.already_present,
            location=outcome.location,
        )

    async def _settle_partial(self) -> None:
        self._set_state(ReleaseState.PARTIAL)
        workflow.logger.warning(
            "sdk release partial version=%s missing=%s",
            self._params.version,
            ",".join(self._status.missing()),
        )

        # Count the release once, however many retry rounds stay partial.
        if not self._counted_partial:
            await self._bookkeeping(SdkRecordActivities.report_release_state, self._status)
            self._counted_partial = True

        # One issue per release: the activity finds an issue an earlier
        # attempt filed before it files one.
        missing = [
            MissingLanguage(
                language=language,
                error_type=self._status.languages[language].error_type,
                error=self._status.languages[language].error,
            )
            for language in self._status.missing()
        ]
        if self._status.issue is None:
            try:
                self._status.issue = await workflow.execute_activity_method(
                    IssueTrackerActivities.file_partial_release_issue,
                    PartialReleaseIssueInput(
                        version=self._params.version,
                        workflow_id=self._status.workflow_id,
                        missing=missing,
                        published=[
                            language
                            for language, entry in self._status.languages.items()
                            if entry.state is LanguageState.PUBLISHED
                        ],
                    ),
                    start_to_close_timeout=_BOOKKEEPING_TIMEOUT,
                    retry_policy=_BOOKKEEPING_RETRY,
                )
            except ActivityError as exc:
                # The alert still fires; the next retry round files the issue again.
                workflow.logger.warning(
                    "filing the release issue failed version=%s error=%s",
                    self._params.version,
                    _failure(exc)[1],
                )
        elif self._status.rounds > 1:
            lines = [f"Retry round {self._status.rounds} left these languages unpublished:"]
            lines += [
                f"- {entry.language}: `{entry.error_type}`: {entry.error}" for entry in missing
            ]
            await self._note(f"round-{self._status.rounds}", "\n".join(lines))

        await self._bookkeeping(SdkRecordActivities.record_release, self._status)
        self._settled_rounds = self._status.rounds

    async def _finish_published(self) -> None:
        self._status.finished_at = workflow.now()
        self._set_state(ReleaseState.PUBLISHED)
        workflow.logger.info("sdk release published version=%s", self._params.version)
        await self._bookkeeping(SdkRecordActivities.record_release, self._status)
        await self._bookkeeping(SdkRecordActivities.report_release_state, self._status)
        if self._status.issue is not None:
            await self._note(
                "published",
                f"Every language of {self._params.version} is published "
                f"(round {self._status.rounds}). Closing.",
                close_as="completed",
            )
        self._settled_rounds = self._status.rounds

    async def _finish_abandoned(self, request: AbandonRequest) -> None:
        for language in self._status.missing():
            self._language(language, LanguageState.ABANDONED)
        self._status.reason = request.reason
        self._status.finished_at = workflow.now()
        self._set_state(ReleaseState.ABANDONED)
        workflow.logger.info(
            "sdk release abandoned version=%s requested_by=%s",
            self._params.version,
            request.requested_by,
        )
        await self._bookkeeping(SdkRecordActivities.record_release, self._status)
        await self._bookkeeping(SdkRecordActivities.report_release_state, self._status)
        if self._status.issue is not None:
            await self._note(
                "abandoned",
                f"Abandoned by {request.requested_by}: {request.reason}",
                close_as="not_planned",
            )
        self._abandoned = True

    async def _reject(self, reason: str) -> ReleaseStatus:
        self._status.reason = reason
        self._status.finished_at = workflow.now()
        self._set_state(ReleaseState.REJECTED)
        workflow.logger.warning(
            "sdk release rejected version=%s reason=%s", self._params.version, reason
        )
        await self._bookkeeping(SdkRecordActivities.record_release, self._status)
        await self._bookkeeping(SdkRecordActivities.report_release_state, self._status)
        # Failing the workflow lets DevRel start the same version again once fixed.
        raise ApplicationError(reason, type="ReleaseRejected", non_retryable=True)

    async def _note(self, marker: str, body: str, close_as: str | None = None) -> None:
        assert self._status.issue is not None
        note = ReleaseIssueNote(
            version=self._params.version,
            issue=self._status.issue,
            marker=marker,
            body=body,
            close_as=close_as,
        )
        await self._bookkeeping(IssueTrackerActivities.note_on_release_issue, note)

    async def _bookkeeping(
        self, activity_method: Callable[..., Awaitable[None]], argument: object
    ) -> None:
        try:
            await workflow.execute_activity_method(
                activity_method,
                argument,
                start_to_close_timeout=_BOOKKEEPING_TIMEOUT,
                retry_policy=_BOOKKEEPING_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "bookkeeping failed version=%s activity=%s error=%s",
                self._params.version,
                activity_method.__name__,
                _failure(exc)[1],
            )

    def _set_state(self, state: ReleaseState) -> None:
        self._status.state = state
        workflow.upsert_search_attributes([SA_RELEASE_STATE.value_set(state.value)])
        self._show_progress()

    def _language(self, language: Language, state: LanguageState, **changes: object) -> None:
        entry = self._status.languages[language]
        entry.state = state
        for name, value in changes.items():
            setattr(entry, name, value)
        entry.updated_at = workflow.now()
        self._show_progress()

    def _show_progress(self) -> None:
        status = self._status
        lines = [f"**{status.version}**: {status.state} (round {status.rounds})"]
        for language, entry in status.languages.items():
            detail = f" ({entry.error_type})" if entry.state is LanguageState.FAILED else ""
            lines.append(f"- {language}: {entry.state}{detail}")
        if status.issue is not None:
            lines.append(f"Issue: {status.issue.url}")
        workflow.set_current_details("\n".join(lines))
