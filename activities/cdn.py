"""Activities that talk to the CDN: purges and fetches through the edge.

One interface, `CdnPurger`, has two implementations: Varnish (the local edge,
purged by surrogate key through the vmod xkey, and by path with bans) and
CloudFront (`CreateInvalidation`). Edge checks fetch the manifest and sample
pages the way a reader would and compare their hashes with the origin's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from datetime import timedelta
from typing import Protocol

import boto3
import httpx
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.docs_site import MANIFEST_NAME, Manifest
from portal.docs_site.config import edge_url
from portal.docs_site.metrics import EDGE_CHECKED, EDGE_STALE, PURGES, RELEASE_STALE
from portal.settings import Settings

log = logging.getLogger(__name__)

# CloudFront limits: at most 3,000 paths per invalidation in progress, of which
# at most 15 may end in a wildcard.
CLOUDFRONT_MAX_PATHS = 3000
CLOUDFRONT_MAX_WILDCARDS = 15
INVALIDATION_POLL_SECONDS = 5.0
EDGE_TIMEOUT_SECONDS = 10.0
LOCAL_DISTRIBUTION_COMMENT = "devportal docs"
_PATH_PATTERN = re.compile(r"^/[^\s*]*\*?$")
# CloudFront finishes invalidations in minutes; retrying sooner only repeats the error.
_TOO_MANY_RETRY_DELAY = timedelta(seconds=60)


class PurgeRequest(BaseModel):
    """Purge request to one CDN: surrogate keys and paths."""

    provider: str = Field(pattern=r"^(varnish|cloudfront)$")
    caller_reference: str = Field(
        min_length=1,
        max_length=128,
        description="Idempotency key: a retry with the same reference creates no new purge.",
    )
    surrogate_keys: list[str] = Field(default_factory=list)
    paths: list[str] = Field(
        default_factory=list, description="Public paths; a trailing `*` matches a prefix."
    )


class PurgeResult(BaseModel):
    """Purge the CDN accepted."""

    provider: str
    reference: str = Field(description="CloudFront invalidation id, or the Varnish request.")
    detail: str = ""


class SamplePage(BaseModel):
    """A file of the release to fetch through the edge and its expected SHA-256."""

    path: str
    sha256: str


class EdgeCheckInput(BaseModel):
    """Expected edge content: the manifest hash and sample files of a release."""

    release_id: str
    manifest_sha256: str
    samples: list[SamplePage] = Field(default_factory=list)


class EdgeCheckResult(BaseModel):
    """Edge check outcome: what the edge served and which paths were stale."""

    fresh: bool
    edge_release_id: str | None = None
    edge_manifest_sha256: str | None = None
    stale_paths: list[str] = Field(default_factory=list)
    error: str | None = None


class CdnPurger(Protocol):
    """A CDN that can drop cached copies of the docs."""

    name: str

    async def purge(self, request: PurgeRequest) -> PurgeResult:
        """Purge what `request` names; raise ApplicationError when the CDN rejects it."""
        ...


def public_paths(manifest: Manifest) -> list[str]:
    """Return the edge paths whose content changes between releases: pages and the manifest.

    Hashed assets are left out: a new release references new asset names.
    """
    paths = ["/"] + [f"/{entry.path}" for entry in manifest.files if not entry.immutable]
    return paths + [f"/{MANIFEST_NAME}"]


def plan_invalidation_paths(
    paths: list[str],
    max_paths: int = CLOUDFRONT_MAX_PATHS,
    max_wildcards: int = CLOUDFRONT_MAX_WILDCARDS,
) -> list[str]:
    """Return invalidation paths within CloudFront's limits, covering at least `paths`.

    Paths beyond `max_paths` are folded into one wildcard per top-level folder;
    when that still breaks a limit, the whole site is invalidated with `/*`.

    Raises:
        ValueError: If a path does not start with `/` or has `*` anywhere but at its end.
    """
    wrong = [path for path in paths if not _PATH_PATTERN.match(path)]
    if wrong:
        raise ValueError(f"invalid invalidation path(s) {wrong}: start with / and end any * there")
    unique = sorted(set(paths))
    if "/*" in unique:
        return ["/*"]
    wildcards = sum(path.endswith("*") for path in unique)
    if len(unique) <= max_paths and wildcards <= max_wildcards:
        return unique
    folded = sorted({_folder_wildcard(path) for path in unique})
    if len(folded) <= max_paths and sum(p.endswith("*") for p in folded) <= max_wildcards:
        return folded
    return ["/*"]


def _folder_wildcard(path: str) -> str:
    parts = path.split("/")
    return path if len(parts) <= 2 else f"/{parts[1]}/*"


def ban_expression(paths: list[str]) -> str:
    """Return the regular expression that a Varnish ban matches public paths with."""
    alternatives = [
        re.escape(path[:-1]) + ".*" if path.endswith("*") else re.escape(path) for path in paths
    ]
    return "^(" + "|".join(alternatives) + ")$"


class VarnishPurger:
    """Purges the Varnish edge: surrogate keys with `PURGE` + `xkey-purge`, paths with `BAN`.

    The edge accepts both only from the portal's own address (the VCL's purge ACL).
    """

    name = "varnish"

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self._base_url = base_url
        self._client = client

    async def purge(self, request: PurgeRequest) -> PurgeResult:
        """Purge the surrogate keys, then ban the paths, of `request`."""
        details = []
        if request.surrogate_keys:
            response = await self._send("PURGE", {"xkey-purge": " ".join(request.surrogate_keys)})
            details.append(f"keys {' '.join(request.surrogate_keys)}: {response}")
        if request.paths:
            response = await self._send("BAN", {"X-Ban-Path": ban_expression(request.paths)})
            details.append(f"paths {len(request.paths)}: {response}")
        return PurgeResult(
            provider=self.name, reference=request.caller_reference, detail="; ".join(details)
        )

    async def _send(self, method: str, headers: dict[str, str]) -> str:
        try:
            response = await self._client.request(method, f"{self._base_url}/", headers=headers)
        except httpx.HTTPError as exc:
            raise ApplicationError(
                f"Varnish edge unreachable at {self._base_url}: {exc!r}", type="EdgeUnavailable"
            ) from exc
        if response.status_code in (401, 403, 405):
            raise ApplicationError(
                f"Varnish rejected {method} with {response.status_code}: "
                f"{response.text.strip()[:200]}; check the VCL's purge ACL names this host",
                type="PurgeRejected",
            )
        if response.status_code != 200:
            raise ApplicationError(
                f"Varnish returned {response.status_code} for {method}", type="PurgeFailed"
            )
        return response.headers.get("X-Purged", response.reason_phrase or "ok")


class CloudFrontPurger:
    """Invalidates paths of a CloudFront distribution, once per caller reference."""

    # TODO: in production, CloudFront needs a CloudFront Function that maps public
    # paths to `releases/<id>/` through the pointer (as the VCL does); the portal
    # does not deploy one yet, and the local distribution on moto serves nothing.

    name = "cloudfront"

    def __init__(self, client: BaseClient, distribution_id: str) -> None:
        self._client = client
        self._distribution_id = distribution_id

    async def purge(self, request: PurgeRequest) -> PurgeResult:
        """Create the invalidation of `request`, or find the one its reference already made.

        CloudFront itself returns the existing invalidation for a repeated
        caller reference. The portal also looks it up first, so a retried
        activity creates no second one on API implementations that do not.
        """
        existing = await self._find(request.caller_reference)
        if existing is None:
            paths = plan_invalidation_paths(request.paths or ["/*"])
            existing = await self._create(request.caller_reference, paths)
        await self._wait_completed(existing)
        return PurgeResult(
            provider=self.name,
            reference=existing,
            detail=f"invalidation {existing} of distribution {self._distribution_id}",
        )

    async def _find(self, caller_reference: str) -> str | None:
        listing = await asyncio.to_thread(
            self._client.list_invalidations, DistributionId=self._distribution_id, MaxItems="100"
        )
        for summary in listing.get("InvalidationList", {}).get("Items", []) or []:
            detail = await asyncio.to_thread(
                self._client.get_invalidation,
                DistributionId=self._distribution_id,
                Id=summary["Id"],
            )
            batch = detail["Invalidation"]["InvalidationBatch"]
            if batch["CallerReference"] == caller_reference:
                log.info(
                    "invalidation exists distribution=%s id=%s reference=%s",
                    self._distribution_id,
                    summary["Id"],
                    caller_reference,
                )
                return summary["Id"]
        return None

    async def _create(self, caller_reference: str, paths: list[str]) -> str:
        try:
            response = await asyncio.to_thread(
                self._client.create_invalidation,
                DistributionId=self._distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": paths},
                    "CallerReference": caller_reference,
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "TooManyInvalidationsInProgress":
                raise ApplicationError(
                    f"CloudFront distribution {self._distribution_id} has too many "
                    "invalidations in progress; retrying in a minute",
                    type="TooManyInvalidationsInProgress",
                    next_retry_delay=_TOO_MANY_RETRY_DELAY,
                ) from exc
            if code in ("NoSuchDistribution", "AccessDenied", "InvalidArgument"):
                raise ApplicationError(
                    f"CloudFront rejected the invalidation: {code}: {exc}",
                    type=code,
                    non_retryable=True,
                ) from exc
            raise
        invalidation_id = response["Invalidation"]["Id"]
        log.info(
            "invalidation created distribution=%s id=%s reference=%s paths=%d",
            self._distribution_id,
            invalidation_id,
            caller_reference,
            len(paths),
        )
        return invalidation_id

    async def _wait_completed(self, invalidation_id: str) -> None:
        while True:
            detail = await asyncio.to_thread(
                self._client.get_invalidation,
                DistributionId=self._distribution_id,
                Id=invalidation_id,
            )
            status = detail["Invalidation"]["Status"]
            if status.lower() == "completed":
                return
            activity.heartbeat(status)
            await asyncio.sleep(INVALIDATION_POLL_SECONDS)


def create_cloudfront_client(settings: Settings) -> BaseClient:
    """Create a CloudFront client for the configured endpoint (moto locally)."""
    return boto3.client(
        "cloudfront",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        config=Config(connect_timeout=3, read_timeout=30, retries={"mode": "standard"}),
    )


def ensure_local_distribution(settings: Settings, client: BaseClient) -> str:
    """Return the id of the docs distribution, creating it on a local AWS endpoint.

    With real AWS the distribution is infrastructure the portal does not own:
    `PORTAL_DOCS_CLOUDFRONT_DISTRIBUTION_ID` must name it.

    Raises:
        ApplicationError: non-retryable, when real AWS is used and no id is set.
    """
    if settings.docs_cloudfront_distribution_id:
        return settings.docs_cloudfront_distribution_id
    if not settings.aws_endpoint_url:
        raise ApplicationError(
            "PORTAL_DOCS_CLOUDFRONT_DISTRIBUTION_ID is unset; set it to the distribution in "
            "front of the docs bucket, or drop cloudfront from PORTAL_DOCS_CDN_PROVIDERS",
            type="ConfigurationError",
            non_retryable=True,
        )
    comment = f"{LOCAL_DISTRIBUTION_COMMENT} {settings.docs_bucket}"
    found = _distribution_by_comment(client, comment)
    if found:
        return found
    origin_id = "docs-origin"
    try:
        response = client.create_distribution(
            DistributionConfig={
                # Fixed, so a second bootstrap finds the first one's distribution.
                "CallerReference": f"devportal-docs-{settings.docs_bucket}",
                "Comment": comment,
                "Enabled": True,
                "DefaultRootObject": "index.html",
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": origin_id,
                            "DomainName": f"{settings.docs_bucket}.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": origin_id,
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "MinTTL": 0,
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                    "TrustedSigners": {"Enabled": False, "Quantity": 0},
                },
            }
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "DistributionAlreadyExists":
            raise
        found = _distribution_by_comment(client, comment)
        if found is None:
            raise
        return found
    distribution_id = response["Distribution"]["Id"]
    log.info("local CloudFront distribution created id=%s bucket=%s", distribution_id, comment)
    return distribution_id


def _distribution_by_comment(client: BaseClient, comment: str) -> str | None:
    paginator = client.get_paginator("list_distributions")
    for page in paginator.paginate():
        for item in page.get("DistributionList", {}).get("Items", []) or []:
            if item.get("Comment") == comment:
                return item["Id"]
    return None


class CdnActivities:
    """Purges and edge checks, sharing one HTTP client and one CloudFront client."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient | None = None,
        cloudfront: BaseClient | None = None,
    ) -> None:
        self._settings = settings
        self._edge_url = edge_url(settings)
        self._http = http or httpx.AsyncClient(timeout=EDGE_TIMEOUT_SECONDS)
        self._cloudfront = cloudfront
        self._distribution_id: str | None = None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _cloudfront_purger(self) -> CloudFrontPurger:
        if self._cloudfront is None:
            self._cloudfront = create_cloudfront_client(self._settings)
        if self._distribution_id is None:
            self._distribution_id = await asyncio.to_thread(
                ensure_local_distribution, self._settings, self._cloudfront
            )
        return CloudFrontPurger(self._cloudfront, self._distribution_id)

    async def purger(self, provider: str) -> CdnPurger:
        """Return the purger of `provider` (`varnish` or `cloudfront`)."""
        if provider == "cloudfront":
            return await self._cloudfront_purger()
        return VarnishPurger(self._edge_url, self._http)

    @activity.defn
    async def ensure_cloudfront_distribution(self) -> str:
        """Return the docs distribution's id, creating it on a local AWS endpoint."""
        return (await self._cloudfront_purger())._distribution_id

    @activity.defn
    async def purge_cdn(self, request: PurgeRequest) -> PurgeResult:
        """Purge one CDN; a retry with the same caller reference purges nothing twice."""
        purger = await self.purger(request.provider)
        try:
            result = await purger.purge(request)
        except (ApplicationError, ClientError, BotoCoreError) as exc:
            rejected = isinstance(exc, ApplicationError) and exc.type == "PurgeRejected"
            PURGES.labels(request.provider, "rejected" if rejected else "failed").inc()
            log.warning(
                "purge failed provider=%s reference=%s attempt=%d error=%s",
                request.provider,
                request.caller_reference,
                activity.info().attempt,
                exc,
            )
            raise
        PURGES.labels(request.provider, "ok").inc()
        log.info(
            "purged provider=%s reference=%s detail=%s",
            request.provider,
            request.caller_reference,
            result.detail,
        )
        return result

    @activity.defn
    async def check_edge(self, expected: EdgeCheckInput) -> EdgeCheckResult:
        """Fetch the manifest and sample pages through the edge and compare them with the origin.

        Sets `portal_docs_edge_stale` for the site. An unreachable edge counts as stale:
        readers get no fresh docs from it either.
        """
        result = await self.compare(expected)
        site = self._settings.docs_site
        EDGE_STALE.labels(site).set(0 if result.fresh else 1)
        EDGE_CHECKED.labels(site).set(time.time())
        log.info(
            "edge checked site=%s release=%s fresh=%s edge_release=%s stale_paths=%s error=%s",
            site,
            expected.release_id,
            result.fresh,
            result.edge_release_id,
            result.stale_paths,
            result.error,
        )
        return result

    async def compare(self, expected: EdgeCheckInput) -> EdgeCheckResult:
        """Fetch the manifest and samples through the edge; export no metric."""
        try:
            response = await self._http.get(f"{self._edge_url}/{MANIFEST_NAME}")
        except httpx.HTTPError as exc:
            return EdgeCheckResult(fresh=False, error=f"edge unreachable: {exc!r}")
        if response.status_code != 200:
            return EdgeCheckResult(
                fresh=False, error=f"edge answered {response.status_code} for /{MANIFEST_NAME}"
            )
        try:
            served = json.loads(response.content)
            edge_release, edge_hash = served["release_id"], served["manifest_sha256"]
        except (ValueError, KeyError, TypeError):
            return EdgeCheckResult(fresh=False, error="edge served a manifest that is not valid")
        result = EdgeCheckResult(
            fresh=False, edge_release_id=edge_release, edge_manifest_sha256=edge_hash
        )
        if edge_hash != expected.manifest_sha256:
            result.stale_paths.append(f"/{MANIFEST_NAME}")
            return result
        for sample in expected.samples:
            try:
                page = await self._http.get(f"{self._edge_url}/{sample.path}")
            except httpx.HTTPError as exc:
                result.error = f"edge unreachable: {exc!r}"
                return result
            if page.status_code != 200 or hashlib.sha256(page.content).hexdigest() != sample.sha256:
                result.stale_paths.append(f"/{sample.path}")
        result.fresh = not result.stale_paths
        return result

    @activity.defn
    async def record_release_stale(self, stale: bool) -> None:
        """Set `portal_docs_release_stale` for the site: 1 while a release waits for the edge."""
        RELEASE_STALE.labels(self._settings.docs_site).set(1 if stale else 0)
        log.info("release stale gauge site=%s stale=%s", self._settings.docs_site, stale)
