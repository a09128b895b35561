"""The GitHub Issues client against the local tracker: one issue per release, whatever fails."""

import httpx
import pytest
import pytest_asyncio

from portal.sdk.config import sdk_config
from portal.sdk.errors import TrackerRejectedError, TrackerUnavailableError
from portal.sdk.issues import PARTIAL_LABEL, add_release_note, ensure_partial_release_issue
from portal.sdk.models import (
    IssueRef,
    MissingLanguage,
    PartialReleaseIssueInput,
    ReleaseIssueNote,
)
from portal.sdk.tracker import IssueTracker
from services.registries import local
from tests.harness.servers import free_port
from tests.sdk_release.harness import release_settings, start_registry

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def tracker_server(portal_settings, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tracker")
    settings = release_settings(portal_settings, workdir, "unused")
    env = local.sdk_environment(settings) | {"PORTAL_STATE_DIR": str(settings.state_dir)}
    server = start_registry(local.issue_tracker(settings, env), workdir / "tracker", env)
    server.settings = settings
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def tracker(tracker_server):
    config = sdk_config(tracker_server.settings)
    client = IssueTracker(config.tracker_url, config.tracker_repository, config.tracker_token)
    yield client
    await client.aclose()


def partial(version: str) -> PartialReleaseIssueInput:
    return PartialReleaseIssueInput(
        version=version,
        workflow_id=f"sdk-release-{version}",
        missing=[
            MissingLanguage(
                language="typescript",
                error_type="RegistryUnavailableError",
                error="npm registry unreachable: ConnectError | refused",
            )
        ],
        published=["python", "go", "java"],
    )


def lose_next_create(settings) -> None:
    config = sdk_config(settings)
    response = httpx.put(
        f"{config.tracker_url}/_admin/faults",
        json={"lose_create_responses": 1},
        headers={"Authorization": f"Bearer {config.tracker_token}"},
    )
    response.raise_for_status()


async def test_issue_filed_once_after_lost_response(tracker, tracker_server):
    lose_next_create(tracker_server.settings)
    with pytest.raises(TrackerUnavailableError, match="502"):
        await ensure_partial_release_issue(tracker, partial("4.0.0"))
    issue = await ensure_partial_release_issue(tracker, partial("4.0.0"))

    found = await tracker.list_issues(state="all", labels=["sdk-release:4.0.0"])
    assert [item.number for item in found] == [issue.number]
    assert set(found[0].labels) == {PARTIAL_LABEL, "sdk-release:4.0.0"}
    assert found[0].title == "SDK release 4.0.0 is partial: typescript not published"
    assert "`RegistryUnavailableError`: npm registry unreachable" in found[0].body
    assert "ConnectError \\| refused" in found[0].body
    assert "portal sdk retry 4.0.0" in found[0].body
    assert "docs/runbooks/sdk-partial-publish.md" in found[0].body


async def test_note_posted_once_then_closed(tracker):
    issue = await ensure_partial_release_issue(tracker, partial("4.1.0"))
    note = ReleaseIssueNote(
        version="4.1.0", issue=issue, marker="published", body="Done.", close_as="completed"
    )
    await add_release_note(tracker, note)
    closed = await add_release_note(tracker, note)

    assert closed.state == "closed"
    assert closed.state_reason == "completed"
    comments = await tracker.list_comments(issue.number)
    assert len(comments) == 1
    assert comments[0].body.endswith("Done.")


async def test_closed_issue_reopened_not_duplicated(tracker):
    first = await ensure_partial_release_issue(tracker, partial("4.2.0"))
    await tracker.update_issue(first.number, state="closed", state_reason="not_planned")
    again = await ensure_partial_release_issue(tracker, partial("4.2.0"))

    assert again.number == first.number
    assert (await tracker.get_issue(first.number)).state == "open"
    assert len(await tracker.list_issues(state="all", labels=["sdk-release:4.2.0"])) == 1


async def test_issues_survive_tracker_restart(tracker, tracker_server):
    issue = await ensure_partial_release_issue(tracker, partial("4.3.0"))
    tracker_server.restart()

    assert (await tracker.get_issue(issue.number)).title.startswith("SDK release 4.3.0")


async def test_bad_token_rejected(tracker_server):
    config = sdk_config(tracker_server.settings)
    client = IssueTracker(config.tracker_url, config.tracker_repository, "not-the-token")
    try:
        with pytest.raises(TrackerRejectedError, match="401.*check the token"):
            await client.list_issues()
    finally:
        await client.aclose()


async def test_tracker_down_is_retryable():
    client = IssueTracker(f"http://127.0.0.1:{free_port()}", "example-sms/sdk-releases", "token")
    try:
        with pytest.raises(TrackerUnavailableError, match="unreachable") as caught:
            await client.create_issue("title", "body", [])
        assert caught.value.retryable
    finally:
        await client.aclose()


async def test_note_on_missing_issue_rejected(tracker):
    note = ReleaseIssueNote(
        version="4.4.0", issue=IssueRef(number=99999, url="x"), marker="round-2", body="x"
    )
    with pytest.raises(TrackerRejectedError, match="404"):
        await add_release_note(tracker, note)
