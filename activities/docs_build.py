"""Activity that renders a release's docs site with the Redocly CLI on the worker's disk."""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.docs_site import DocsBuildError, Manifest
from portal.docs_site.config import SpecNotFoundError
from portal.docs_site.local import build_release
from portal.settings import Settings

log = logging.getLogger(__name__)


class BuildSiteInput(BaseModel):
    """The release to build and the documents of the spec folder it publishes."""

    release_id: str
    spec_names: list[str] = Field(min_length=1)


class DocsBuildActivities:
    """Builds sites into the worker's build folder."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn
    async def build_docs_site(self, params: BuildSiteInput) -> Manifest:
        """Build the release's site and return its manifest.

        Invalid input (an unknown document, a renderer error on a document) fails
        at once; retries would give the same result.
        """
        log.info("building docs site release=%s specs=%s", params.release_id, params.spec_names)
        try:
            return await asyncio.to_thread(
                build_release, self._settings, params.release_id, params.spec_names
            )
        except (DocsBuildError, SpecNotFoundError) as exc:
            log.warning("docs build failed release=%s error=%s", params.release_id, exc)
            raise ApplicationError(str(exc), type="DocsBuildError", non_retryable=True) from exc
