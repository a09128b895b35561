"""A release publishes every language, installable from each local registry; again is a no-op."""

import hashlib

import httpx
import pytest
import pytest_asyncio

from api.problems import PROBLEM_MEDIA_TYPE
from portal.sdk.models import LanguageState, ReleaseState
from tests.harness.keys import seed_user, sign_in
from tests.sdk_release.harness import (
    git_tags,
    go_resolve,
    java_compile_and_run,
    maven_get,
    maven_key,
    npm_install,
    npm_versions,
    pip_install,
    pypi_files,
    tracker_issues,
    wait_settled,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

VERSION = "1.0.0"
CONFLICT_VERSION = "1.1.0"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(sdk_settings, registries):
    """The portal API on this module's settings, and a signed-in DevRel session."""
    from api.app import create_app

    app = create_app(sdk_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            session = await sign_in(http, await seed_user(sdk_settings, roles=("devrel",)))
            http.headers.update(session.headers)
            yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def published(api, sdk_settings, sdk_client, sdk_worker):
    """Release VERSION through the API once for the module; return its final status."""
    created = await api.post("/v1/sdk/releases", json={"version": VERSION})
    assert created.status_code == 202, created.text
    assert created.headers["location"] == f"/v1/sdk/releases/{VERSION}"
    assert created.json()["state"] == "publishing"
    return await wait_settled(sdk_client, sdk_settings, VERSION)


async def test_release_publishes_every_language(published, api):
    assert published.state is ReleaseState.PUBLISHED, published
    for entry in published.languages.values():
        assert entry.state is LanguageState.PUBLISHED
        assert entry.already_present is False
        assert entry.location
    read = await api.get(f"/v1/sdk/releases/{VERSION}")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["state"] == "published"
    assert {name: entry["state"] for name, entry in body["languages"].items()} == {
        "python": "published",
        "typescript": "published",
        "go": "published",
        "java": "published",
    }
    listed = await api.get("/v1/sdk/releases", params={"state": "published"})
    assert listed.status_code == 200, listed.text
    assert VERSION in [entry["version"] for entry in listed.json()["releases"]]


async def test_packages_install_from_registries(published, sdk_settings, tmp_path):
    assert pip_install(sdk_settings, VERSION, tmp_path / "pip" / "site") == VERSION
    assert npm_install(sdk_settings, VERSION, tmp_path / "npm") == VERSION
    assert go_resolve(sdk_settings, VERSION, tmp_path / "go") == VERSION


async def test_maven_layout_has_checksums(published, sdk_settings, tmp_path):
    jar = maven_get(sdk_settings, maven_key(sdk_settings, VERSION))
    assert jar is not None
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        published_sum = maven_get(
            sdk_settings, maven_key(sdk_settings, VERSION, f".jar.{algorithm}")
        )
        assert published_sum.decode() == hashlib.new(algorithm, jar).hexdigest()
    pom = maven_get(sdk_settings, maven_key(sdk_settings, VERSION, ".pom"))
    assert f"<version>{VERSION}</version>".encode() in pom
    pom_sha1 = maven_get(sdk_settings, maven_key(sdk_settings, VERSION, ".pom.sha1"))
    assert pom_sha1.decode() == hashlib.sha1(pom).hexdigest()
    metadata_key = maven_key(sdk_settings, VERSION).rsplit("/", 2)[0] + "/maven-metadata.xml"
    metadata = maven_get(sdk_settings, metadata_key)
    assert f"<version>{VERSION}</version>".encode() in metadata
    assert f"<release>{VERSION}</release>".encode() in metadata
    metadata_sha1 = maven_get(sdk_settings, metadata_key + ".sha1")
    assert metadata_sha1.decode() == hashlib.sha1(metadata).hexdigest()
    jar_path = tmp_path / "verify-sdk.jar"
    jar_path.write_bytes(jar)
    assert java_compile_and_run(jar_path, tmp_path) == VERSION


async def test_same_release_again_does_nothing_new(published, api, sdk_settings, sdk_client):
    jar_key = maven_key(sdk_settings, VERSION)
    before = maven_get(sdk_settings, jar_key)
    again = await api.post("/v1/sdk/releases", json={"version": VERSION})
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "published"
    runs = [
        execution.run_id
        async for execution in sdk_client.list_workflows(f"WorkflowId = 'sdk-release-{VERSION}'")
    ]
    assert len(runs) == 1
    assert pypi_files(sdk_settings) == ["example_sms_verify-1.0.0-py3-none-any.whl"]
    assert npm_versions(sdk_settings) == [VERSION]
    assert git_tags(sdk_settings) == [f"v{VERSION}"]
    assert maven_get(sdk_settings, jar_key) == before


async def test_api_rejects_bad_versions(published, api):
    invalid = await api.post("/v1/sdk/releases", json={"version": "1.2"})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert invalid.json()["errors"][0]["field"] == "version"

    lower = await api.post("/v1/sdk/releases", json={"version": "0.9.0"})
    assert lower.status_code == 409, lower.text
    assert lower.json()["latest"] == VERSION
    assert "lower than 1.0.0" in lower.json()["detail"]

    missing = await api.get("/v1/sdk/releases/9.9.9")
    assert missing.status_code == 404
    assert "portal sdk release 9.9.9" in missing.json()["detail"]

    not_partial = await api.post(f"/v1/sdk/releases/{VERSION}/retry", json={})
    assert not_partial.status_code == 409
    assert "published" in not_partial.json()["detail"]


async def test_release_needs_devrel_role(api, sdk_settings):
    developer = await sign_in(api, await seed_user(sdk_settings, roles=("developer",)))
    response = await api.post(
        "/v1/sdk/releases", json={"version": "5.0.0"}, headers=developer.headers
    )
    assert response.status_code == 403
    assert response.json()["required_role"] == "devrel"


async def test_different_content_is_a_conflict(published, api, sdk_settings, sdk_client):
    from portal.sdk.config import sdk_config
    from portal.sdk.s3 import s3_client

    # Another tool already put a different jar at this version in the Maven repository.
    config = sdk_config(sdk_settings)
    s3_client(config).put_object(
        Bucket=config.maven_bucket,
        Key=maven_key(sdk_settings, CONFLICT_VERSION),
        Body=b"not the jar this release builds",
    )
    created = await api.post("/v1/sdk/releases", json={"version": CONFLICT_VERSION})
    assert created.status_code == 202, created.text
    status = await wait_settled(sdk_client, sdk_settings, CONFLICT_VERSION)

    assert status.state is ReleaseState.PARTIAL
    java = status.languages["java"]
    assert java.state is LanguageState.FAILED
    assert java.error_type == "PublishConflictError"
    assert "already holds com.examplesms:verify-sdk 1.1.0 with different content" in java.error
    assert "release a new version or abandon this one" in java.error
    for language in ("python", "typescript", "go"):
        assert status.languages[language].state is LanguageState.PUBLISHED
    issues = tracker_issues(sdk_settings, CONFLICT_VERSION)
    assert len(issues) == 1
    assert "java" in issues[0]["title"]

    not_missing = await api.post(
        f"/v1/sdk/releases/{CONFLICT_VERSION}/retry", json={"languages": ["python"]}
    )
    assert not_missing.status_code == 409, not_missing.text
    assert "python not missing" in not_missing.json()["detail"]

    abandoned = await api.post(
        f"/v1/sdk/releases/{CONFLICT_VERSION}/abandon",
        json={"reason": "the Maven repository holds a foreign jar; shipping 1.1.1"},
    )
    assert abandoned.status_code == 200, abandoned.text
    assert abandoned.json()["state"] == "abandoned"
    assert abandoned.json()["languages"]["java"]["state"] == "abandoned"
    closed = tracker_issues(sdk_settings, CONFLICT_VERSION)
    assert closed[0]["state"] == "closed"
    assert closed[0]["state_reason"] == "not_planned"

    again = await api.post(f"/v1/sdk/releases/{CONFLICT_VERSION}/abandon", json={"reason": "twice"})
    assert again.status_code == 409


async def test_temporal_down_is_a_fast_503(sdk_settings, registries):
    import time

    from api.app import create_app
    from tests.harness.servers import free_port

    settings = sdk_settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            session = await sign_in(http, await seed_user(settings, roles=("devrel",)))
            started = time.monotonic()
            response = await http.get("/v1/sdk/releases/1.0.0", headers=session.headers)
            elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    assert response.json()["dependency"] == "temporal"
    assert elapsed < 12


async def test_registry_higher_version_rejects_release(published, api, sdk_settings, sdk_client):
    from portal.sdk.config import sdk_config
    from portal.sdk.publishers.maven_s3 import render_metadata
    from portal.sdk.s3 import s3_client

    # The Maven repository lists 5.0.0, which matches no recorded release.
    config = sdk_config(sdk_settings)
    metadata_key = maven_key(sdk_settings, VERSION).rsplit("/", 2)[0] + "/maven-metadata.xml"
    s3_client(config).put_object(
        Bucket=config.maven_bucket,
        Key=metadata_key,
        Body=render_metadata([VERSION, "5.0.0"], "20260101000000"),
    )
    created = await api.post("/v1/sdk/releases", json={"version": "4.0.0"})
    assert created.status_code == 202, created.text
    status = await wait_settled(sdk_client, sdk_settings, "4.0.0")

    assert status.state is ReleaseState.REJECTED
    assert "lower than 5.0.0, the latest in the java registry" in status.reason
    read = await api.get("/v1/sdk/releases/4.0.0")
    assert read.json()["state"] == "rejected"
    assert "4.0.0" not in npm_versions(sdk_settings)
    assert "v4.0.0" not in git_tags(sdk_settings)
    assert not [name for name in pypi_files(sdk_settings) if "-4.0.0-" in name]

    # A rejected release may start again once the cause is fixed.
    again = await api.post("/v1/sdk/releases", json={"version": "4.0.0"})
    assert again.status_code == 202, again.text
