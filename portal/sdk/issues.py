"""The one issue of a partial release: filed once, commented once per event, closed at the end.

Temporal retries an activity whose response was lost, so every write here
first looks for what an earlier attempt may have written. The idempotency
key of the issue is the label `sdk-release:<version>`; the key of a
comment is an HTML comment marker in its body.
"""

from __future__ import annotations

import logging

from portal.sdk.languages import REGISTRY_NAMES
from portal.sdk.models import IssueRef, PartialReleaseIssueInput, ReleaseIssueNote
from portal.sdk.tracker import Issue, IssueTracker

log = logging.getLogger(__name__)

PARTIAL_LABEL = "sdk-partial-publish"
RUNBOOK = "docs/runbooks/sdk-partial-publish.md"


def release_label(version: str) -> str:
    """Return the label that identifies the issue of release `version`."""
    return f"sdk-release:{version}"


def _marker(name: str) -> str:
    return f"<!-- portal:{name} -->"


def render_partial_issue(params: PartialReleaseIssueInput) -> tuple[str, str]:
    """Return the title and Markdown body of a partial release's issue."""
    missing = ", ".join(entry.language for entry in params.missing)
    title = f"SDK release {params.version} is partial: {missing} not published"
    lines = [
        _marker(f"sdk-release:{params.version}"),
        f"SDK release **{params.version}** reached only some registries, so developers "
        "see different versions in different languages.",
        "",
        "| Language | Registry | Last error |",
        "| --- | --- | --- |",
    ]
    for entry in params.missing:
        error = (entry.error or "unknown").replace("|", "\\|").replace("\n", " ")
        kind = f"`{entry.error_type}`: " if entry.error_type else ""
        lines.append(f"| {entry.language} | {REGISTRY_NAMES[entry.language]} | {kind}{error} |")
    published = ", ".join(params.published) or "none"
    lines += [
        "",
        f"Published: {published}.",
        f"Workflow: `{params.workflow_id}`.",
        "",
        "Fix the registry, then run one of:",
        "",
        "```sh",
        f"portal sdk retry {params.version}            # publish the missing languages",
        f'portal sdk abandon {params.version} --reason "..."   # close the release',
        "```",
        "",
        f"Runbook: {RUNBOOK}",
    ]
    return title, "\n".join(lines)


async def ensure_partial_release_issue(
    tracker: IssueTracker, params: PartialReleaseIssueInput
) -> IssueRef:
    """Return the release's issue, filing it only when no earlier attempt did.

    A closed issue for the same version (from an earlier, abandoned workflow of
    that version) is reopened rather than duplicated.
    """
    label = release_label(params.version)
    existing = await tracker.list_issues(state="all", labels=[label])
    if existing:
        issue = min(existing, key=lambda item: item.number)
        if issue.state != "open":
            issue = await tracker.update_issue(issue.number, state="open")
        log.info("release issue exists version=%s issue=%d", params.version, issue.number)
        return IssueRef(number=issue.number, url=issue.html_url)
    title, body = render_partial_issue(params)
    issue = await tracker.create_issue(title, body, [PARTIAL_LABEL, label])
    log.info("filed release issue version=%s issue=%d", params.version, issue.number)
    return IssueRef(number=issue.number, url=issue.html_url)


async def add_release_note(tracker: IssueTracker, note: ReleaseIssueNote) -> Issue:
    """Comment `note.body` once (keyed by `note.marker`), then close the issue if asked."""
    marker = _marker(f"{note.version}:{note.marker}")
    comments = await tracker.list_comments(note.issue.number)
    if not any(marker in comment.body for comment in comments):
        await tracker.add_comment(note.issue.number, f"{marker}\n{note.body}")
        log.info(
            "commented on release issue version=%s issue=%d marker=%s",
            note.version,
            note.issue.number,
            note.marker,
        )
    issue = await tracker.get_issue(note.issue.number)
    if note.close_as and issue.state != "closed":
        issue = await tracker.update_issue(
            note.issue.number, state="closed", state_reason=note.close_as
        )
        log.info(
            "closed release issue version=%s issue=%d reason=%s",
            note.version,
            note.issue.number,
            note.close_as,
        )
    return issue
