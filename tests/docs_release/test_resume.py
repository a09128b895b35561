"""A worker killed during the upload: the release resumes without redoing finished work."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from portal.docs_site.config import release_prefix
from portal.docs_site.releases import start_release
from tests.docs_release.conftest import RELEASE_SPEC, DocsStack, edge_manifest, start_worker
from workflows.docs_release import ReleaseState

pytestmark = pytest.mark.asyncio(loop_scope="session")


def object_versions(stack: DocsStack, prefix: str) -> Counter:
    """Return how many versions (PUTs) each key under `prefix` has."""
    try:
        listing = stack.s3().list_object_versions(Bucket=stack.settings.docs_bucket, Prefix=prefix)
    except ClientError:
        return Counter()  # The release has not created the bucket yet.
    return Counter(version["Key"] for version in listing.get("Versions", []))


def invalidation_references(stack: DocsStack) -> list[str]:
    cloudfront = stack.cloudfront()
    references = []
    for distribution in cloudfront.list_distributions()["DistributionList"].get("Items", []):
        listing = cloudfront.list_invalidations(DistributionId=distribution["Id"])
        for summary in listing["InvalidationList"].get("Items", []):
            detail = cloudfront.get_invalidation(
                DistributionId=distribution["Id"], Id=summary["Id"]
            )
            references.append(detail["Invalidation"]["InvalidationBatch"]["CallerReference"])
    return references


async def test_killed_worker_resumes_upload(docs_stack: DocsStack):
    # Slow uploads, two files per activity, so the kill lands inside the second batch.
    docs_stack.restart_worker(docs_upload_delay_seconds=1.5, docs_upload_batch_size=2)
    release_id = f"k{int(time.time())}"
    handle = await start_release(
        docs_stack.client, docs_stack.settings, release_id, [RELEASE_SPEC], "test"
    )
    prefix = release_prefix(release_id)
    deadline = time.monotonic() + 120
    while len(object_versions(docs_stack, prefix)) < 3:
        assert time.monotonic() < deadline, "upload never reached the second batch"
        await asyncio.sleep(0.2)
    docs_stack.worker.kill()
    uploaded_before_kill = set(object_versions(docs_stack, prefix))

    docs_stack.settings = docs_stack.settings.model_copy(update={"docs_upload_delay_seconds": 0.0})
    docs_stack.worker = start_worker(docs_stack.settings, docs_stack.workdir)
    status = await asyncio.wait_for(handle.result(), 180)

    assert status.state == ReleaseState.FRESH
    versions = object_versions(docs_stack, prefix)
    assert len(versions) == status.files_total
    assert all(count == 1 for count in versions.values()), versions
    assert uploaded_before_kill <= set(versions)
    assert set(status.files_skipped) <= {key.removeprefix(prefix) for key in uploaded_before_kill}
    assert sorted(status.files_uploaded + status.files_skipped) == sorted(
        key.removeprefix(prefix) for key in versions
    )
    ours = [ref for ref in invalidation_references(docs_stack) if release_id in ref]
    assert ours == [f"docs-release-{release_id}-1"]
    assert edge_manifest(docs_stack)["release_id"] == release_id
