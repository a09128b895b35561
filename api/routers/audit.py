"""Audit events of the signed-in user's tenant: `GET /v1/audit`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.security import current_user
from portal.keys.audit import read_audit
from portal.keys.sessions import PortalUser

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    """One audit event: who did what to which key, and when."""

    id: str = Field(..., description="Stream id; pass it as `before` for the next page.")
    event: str = Field(..., examples=["key.revealed"])
    at: datetime
    actor: str = Field(..., description="Portal user id, or `system:<process>`.")
    key_id: str | None = None
    reason: str | None = None


class AuditPage(BaseModel):
    """Events, newest first."""

    events: list[AuditEventOut]
    next_before: str | None = Field(
        None, description="Pass as `before` to read older events; null on the last page."
    )


@router.get("", summary="The tenant's audit events, newest first")
async def list_audit_events(
    request: Request,
    user: PortalUser = Depends(current_user),
    limit: int = Query(50, ge=1, le=500, description="Events per page."),
    before: str | None = Query(
        None, pattern=r"^[0-9]+-[0-9]+$", description="Return events older than this event id."
    ),
) -> AuditPage:
    """Return key and sign-in events of the signed-in user's tenant, never of another tenant."""
    records = await read_audit(request.app.state.redis, user.tenant_id, limit=limit, before=before)
    events = [
        AuditEventOut(
            id=record.id,
            event=record.event,
            at=record.at,
            actor=record.actor,
            key_id=record.key_id,
            reason=record.reason,
        )
        for record in records
    ]
    next_before = events[-1].id if len(events) == limit else None
    return AuditPage(events=events, next_before=next_before)
