"""Activities that change Verify's state in Redis: ending sessions, installing data keys."""

from __future__ import annotations

import base64

from pydantic import BaseModel
from temporalio import activity

from portal.verify.keyring import DataKeyRing
from portal.verify.metrics import PEPPER_ROTATIONS, SESSIONS_ENDED
from portal.verify.store import SessionStatus, SessionStore


class EndSessionInput(BaseModel):
    """Input of `end_session`."""

    session_id: str
    status: SessionStatus
    reason: str = ""


class InstallDataKeyInput(BaseModel):
    """Input of `install_data_key`: the KMS-wrapped key only, never its plaintext."""

    purpose: str
    wrapped_key_b64: str


class VerifyStoreActivities:
    """Activities sharing the worker's session store and key rings.

    Args:
        store: Verify session store.
        rings: Key rings by purpose (`pepper`, `number`).
    """

    def __init__(self, store: SessionStore, rings: dict[str, DataKeyRing]) -> None:
        self._store = store
        self._rings = rings

    @activity.defn
    async def end_session(self, params: EndSessionInput) -> SessionStatus:
        """End a session that is still pending; return its final status.

        A session the API already approved, cancelled or locked keeps that
        status, so the workflow's view can never overwrite a check's result.
        """
        final = await self._store.end(params.session_id, params.status, params.reason)
        if final in ("not_found", "missing"):
            activity.logger.warning("session gone before its end session_id=%s", params.session_id)
            return params.status
        SESSIONS_ENDED.labels(final).inc()
        activity.logger.info(
            "session ended session_id=%s status=%s reason=%s",
            params.session_id,
            final,
            params.reason or "-",
        )
        return SessionStatus(final)

    @activity.defn
    async def install_data_key(self, params: InstallDataKeyInput) -> int:
        """Make a wrapped data key the current version of its ring; return the version."""
        ring = self._rings[params.purpose]
        version = await ring.install(base64.b64decode(params.wrapped_key_b64))
        if params.purpose == "pepper":
            PEPPER_ROTATIONS.inc()
        activity.logger.info("data key installed purpose=%s version=%d", params.purpose, version)
        return version

    @activity.defn
    async def prune_data_keys(self, purpose: str) -> list[int]:
        """Delete the versions of a ring whose sessions have all expired; return them."""
        return await self._rings[purpose].prune()
