"""Inputs, signals and results of Verify's workflows.

They live outside the workflow modules because the Temporal sandbox runs a
workflow module afresh for every workflow run. A pydantic model defined
there would be built again each time (an estimate of 10 ms apiece, from a
profile on a loaded 2-CPU machine), while this passed-through module is
built once per process.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from portal.verify.keyring import PEPPER
from portal.verify.store import SessionStatus


class VerifySessionInput(BaseModel):
    """Input of VerifySessionWorkflow: ids and timings only, never the number or a code."""

    session_id: str
    tenant_id: str
    channels: list[str]
    channel_timeout_seconds: int
    expires_at: datetime


class SessionEnded(BaseModel):
    """Signal that a check or a cancel settled the session in Redis."""

    status: SessionStatus


class VerifySessionResult(BaseModel):
    """Final status of a session and the channels that sent a code."""

    status: SessionStatus
    channels_sent: list[str]


class PepperRotationInput(BaseModel):
    """Input of PepperRotationWorkflow."""

    purpose: str = PEPPER
    requested_by: str = "schedule"


class PepperRotationResult(BaseModel):
    """The version installed and the versions pruned."""

    version: int
    pruned: list[int]
