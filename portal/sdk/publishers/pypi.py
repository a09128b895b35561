"""Python: upload the wheel with twine to a PyPI-compatible index (pypiserver locally)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from urllib.parse import urljoin

import httpx
import requests
from packaging.utils import canonicalize_name, parse_wheel_filename

from portal.sdk.config import PYTHON_PACKAGE
from portal.sdk.errors import PublishRejectedError, RegistryUnavailableError
from portal.sdk.languages import Language
from portal.sdk.models import StagedArtifact
from portal.sdk.publishers.base import (
    HTTP_TIMEOUT,
    Publisher,
    http_error,
    status_error,
)
from portal.sdk.versions import from_registry_version, max_version

log = logging.getLogger(__name__)

_LINK = re.compile(r"""href=["']([^"']+)["']""")


class PypiPublisher(Publisher):
    """Uploads wheels with twine and reads the index's simple API (PEP 503)."""

    language = Language.PYTHON

    @property
    def _project_url(self) -> str:
        return urljoin(self.config.pypi_url, f"simple/{canonicalize_name(PYTHON_PACKAGE)}/")

    async def _files(self) -> dict[str, str]:
        """Return {file name: URL} of every file the index lists for the package."""
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=True) as http:
                response = await http.get(self._project_url)
        except httpx.HTTPError as exc:
            raise http_error(self.registry, exc) from None
        if response.status_code == 404:
            return {}
        if response.status_code >= 400:
            raise status_error(self.registry, response, "a simple index read")
        files: dict[str, str] = {}
        for href in _LINK.findall(response.text):
            url = urljoin(str(response.url), href)
            name = url.split("#", 1)[0].rsplit("/", 1)[-1]
            files[name] = url
        return files

    async def _sha256_of(self, url: str) -> str:
        fragment = url.split("#sha256=", 1)
        if len(fragment) == 2:
            return fragment[1]
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=True) as http:
                response = await http.get(url)
        except httpx.HTTPError as exc:
            raise http_error(self.registry, exc) from None
        if response.status_code >= 400:
            raise status_error(self.registry, response, "a file download")
        return hashlib.sha256(response.content).hexdigest()

    async def holds(self, artifact: StagedArtifact, files: dict[str, Path]) -> bool:
        """Return True when the index lists the wheel with the staged sha256."""
        wheel = artifact.primary
        files = await self._files()
        if wheel.name not in files:
            return False
        sha256 = await self._sha256_of(files[wheel.name])
        if sha256 != wheel.sha256:
            raise self.conflict(artifact, f"{wheel.name} has sha256 {sha256}, ours {wheel.sha256}")
        return True

    async def upload(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Upload the wheel with twine's upload command."""
        await asyncio.to_thread(self._twine_upload, files[artifact.primary.name])

    def _twine_upload(self, path: Path) -> None:
        from twine.commands.upload import upload
        from twine.exceptions import TwineException
        from twine.settings import Settings as TwineSettings

        settings = TwineSettings(
            repository_url=self.config.pypi_url,
            username=self.config.pypi_username,
            password=self.config.pypi_password,
            non_interactive=True,
            disable_progress_bar=True,
        )
        try:
            upload(settings, [str(path)])
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            message = f"{self.registry} returned {status} for the upload of {path.name}"
            if status in (400, 403, 409):
                # PyPI and pypiserver return 400 for an existing file, other indexes 403 or 409.
                raise PublishRejectedError(message, maybe_exists=True) from None
            if status >= 500 or status == 429:
                raise RegistryUnavailableError(message) from None
            raise PublishRejectedError(message) from None
        except requests.RequestException as exc:
            raise RegistryUnavailableError(
                f"{self.registry} unreachable during upload: {type(exc).__name__}"
            ) from None
        except TwineException as exc:
            raise PublishRejectedError(f"twine rejected {path.name}: {exc}") from None

    async def latest_version(self) -> str | None:
        """Return the highest release version among the wheels the index lists."""
        versions = []
        for name in await self._files():
            if not name.endswith(".whl"):
                continue
            try:
                _, version, _, _ = parse_wheel_filename(name)
            except ValueError:
                continue
            release = from_registry_version(self.language, str(version))
            if release:
                versions.append(release)
        return max_version(versions)

    def location(self, artifact: StagedArtifact) -> str:
        """Return the simple-index URL of the package."""
        return self._project_url
