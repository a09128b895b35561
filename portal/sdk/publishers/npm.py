"""TypeScript: `npm publish` the packed tarball to an npm registry (Verdaccio locally)."""

from __future__ import annotations

import base64
import json
import logging
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from portal.sdk.config import NPM_PACKAGE, find_tool
from portal.sdk.errors import PublishRejectedError, RegistryUnavailableError
from portal.sdk.languages import Language
from portal.sdk.models import StagedArtifact
from portal.sdk.publishers.base import (
    HTTP_TIMEOUT,
    Publisher,
    http_error,
    status_error,
)
from portal.sdk.tools import run_tool
from portal.sdk.versions import from_registry_version, max_version

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 120.0
# npm error codes that mean the registry or the network is down, not the package.
_UNAVAILABLE_CODES = {
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EPIPE",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "E429",
    "E500",
    "E502",
    "E503",
    "E504",
}
_REJECTED_CODES = {"E401", "ENEEDAUTH", "E400", "E404", "E413", "E422", "EPUBLISHCONFLICT"}


class NpmPublisher(Publisher):
    """Publishes with the npm CLI and reads the registry's packument."""

    language = Language.TYPESCRIPT

    @property
    def _packument_url(self) -> str:
        return self.config.npm_url + quote(NPM_PACKAGE, safe="@")

    async def _packument(self) -> dict | None:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
                response = await http.get(
                    self._packument_url, headers={"Accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise http_error(self.registry, exc) from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise status_error(self.registry, response, "a package read")
        return response.json()

    async def holds(self, artifact: StagedArtifact, files: dict[str, Path]) -> bool:
        """Return True when the registry lists the version with the staged tarball's sha1."""
        packument = await self._packument()
        entry = (packument or {}).get("versions", {}).get(artifact.registry_version)
        if entry is None:
            return False
        dist = entry.get("dist", {})
        tarball = artifact.primary
        integrity = "sha512-" + base64.b64encode(bytes.fromhex(tarball.sha512)).decode()
        if dist.get("shasum") != tarball.sha1 or dist.get("integrity", integrity) != integrity:
            raise self.conflict(
                artifact, f"registry shasum {dist.get('shasum')}, ours {tarball.sha1}"
            )
        return True

    def _npmrc(self, folder: Path) -> Path:
        """Write a user config carrying the registry credentials, readable by this user only."""
        parts = urlsplit(self.config.npm_url)
        scope = f"//{parts.netloc}{parts.path}"
        if self.config.npm_token:
            line = f"{scope}:_authToken={self.config.npm_token}"
        else:
            pair = f"{self.config.npm_username}:{self.config.npm_password}"
            line = f"{scope}:_auth={base64.b64encode(pair.encode()).decode()}"
        path = folder / ".npmrc"
        path.touch(mode=0o600)
        path.write_text(line + "\n")
        return path

    async def upload(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Run `npm publish` on the staged tarball; prereleases get the `next` dist-tag."""
        npm = find_tool("npm")
        if npm is None:
            raise PublishRejectedError("npm is not installed; run scripts/setup.sh to install it")
        tag = "next" if "-" in artifact.version else "latest"
        with tempfile.TemporaryDirectory(prefix="npm-publish-") as folder:
            npmrc = self._npmrc(Path(folder))
            try:
                result = await run_tool(
                    [
                        npm,
                        "publish",
                        str(files[artifact.primary.name]),
                        "--registry",
                        self.config.npm_url,
                        "--userconfig",
                        str(npmrc),
                        "--tag",
                        tag,
                        "--access",
                        "public",
                        "--json",
                    ],
                    cwd=Path(folder),
                    env={
                        "npm_config_update_notifier": "false",
                        "npm_config_fund": "false",
                        "npm_config_audit": "false",
                        "npm_config_fetch_retries": "0",
                    },
                    limit_seconds=PUBLISH_TIMEOUT_SECONDS,
                )
            except TimeoutError as exc:
                raise RegistryUnavailableError(f"npm publish timed out: {exc}") from None
        if not result.ok:
            raise self._classify(result.stdout, result.stderr)

    def _classify(self, stdout: str, stderr: str):
        code, summary = "", ""
        try:
            error = json.loads(stdout or "{}").get("error", {})
            code, summary = str(error.get("code") or ""), str(error.get("summary") or "")
        except ValueError:
            pass
        if not summary:
            summary = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        message = f"npm publish to {self.registry} failed ({code or 'no code'}): {summary}"
        if code in _UNAVAILABLE_CODES:
            return RegistryUnavailableError(message)
        if code in {"E403", "E409"} or "previously published" in summary:
            # Registries return 403 or 409 for a version that exists already.
            return PublishRejectedError(message, maybe_exists=True)
        if code in _REJECTED_CODES:
            return PublishRejectedError(message)
        return RegistryUnavailableError(message)

    async def latest_version(self) -> str | None:
        """Return the highest release version the packument lists."""
        packument = await self._packument()
        versions = [
            release
            for text in (packument or {}).get("versions", {})
            if (release := from_registry_version(self.language, text))
        ]
        return max_version(versions)

    def location(self, artifact: StagedArtifact) -> str:
        """Return the packument URL of the package."""
        return self._packument_url
