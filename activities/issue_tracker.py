"""Activities that file, comment on and close the issue of a partial SDK release."""

from __future__ import annotations

import logging

from temporalio import activity

from portal.sdk.errors import SdkReleaseError
from portal.sdk.issues import add_release_note, ensure_partial_release_issue
from portal.sdk.models import IssueRef, PartialReleaseIssueInput, ReleaseIssueNote
from portal.sdk.tracker import IssueTracker

log = logging.getLogger(__name__)


class IssueTrackerActivities:
    """Activities sharing one GitHub Issues REST client."""

    def __init__(self, tracker: IssueTracker) -> None:
        self._tracker = tracker

    @activity.defn
    async def file_partial_release_issue(self, params: PartialReleaseIssueInput) -> IssueRef:
        """File the release's issue, or return the one an earlier attempt filed."""
        try:
            return await ensure_partial_release_issue(self._tracker, params)
        except SdkReleaseError as exc:
            log.warning(
                "filing the release issue failed version=%s workflow_id=%s attempt=%d error=%s",
                params.version,
                params.workflow_id,
                activity.info().attempt,
                exc.message,
            )
            raise exc.to_application_error() from None

    @activity.defn
    async def note_on_release_issue(self, note: ReleaseIssueNote) -> None:
        """Comment on the release's issue once per marker and close it when asked."""
        try:
            await add_release_note(self._tracker, note)
        except SdkReleaseError as exc:
            log.warning(
                "updating the release issue failed version=%s issue=%d marker=%s error=%s",
                note.version,
                note.issue.number,
                note.marker,
                exc.message,
            )
            raise exc.to_application_error() from None
