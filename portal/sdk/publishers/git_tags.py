"""Go: push a semver tag to the module's git repository (a bare repository locally).

Go resolves a module version from the repository's tag, so publishing is a
commit of the module's files on `main` and an annotated tag `vX.Y.Z`
pushed together with `git push --atomic`. Content equality is the git tree
hash: the same files give the same tree whatever commit carries them.
"""

from __future__ import annotations

import logging
import re
import tempfile
import zipfile
from pathlib import Path

from portal.sdk.errors import PublishRejectedError, RegistryUnavailableError, SdkReleaseError
from portal.sdk.languages import Language
from portal.sdk.models import StagedArtifact
from portal.sdk.publishers.base import Publisher
from portal.sdk.tools import ToolResult, run_tool
from portal.sdk.versions import from_registry_version, max_version

log = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 60.0
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
_COMMITTER = ["-c", "user.name=SDK release", "-c", "user.email=sdk-release@example-sms.invalid"]
_UNAVAILABLE_HINTS = (
    "could not read from remote",
    "does not appear to be a git repository",
    "unable to access",
    "connection refused",
    "could not resolve host",
    "timed out",
    "early eof",
    "remote end hung up",
    "failed to push some refs",
)
_REJECTED_HINTS = ("authentication failed", "permission denied", "403")
# A token in an HTTPS remote URL must not reach logs or workflow history.
_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact_url_credentials(text: str) -> str:
    """Replace the user and password of every URL in `text`, which git echoes in errors."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


class GitTagPublisher(Publisher):
    """Commits the module's files and pushes the version tag with the git CLI."""

    language = Language.GO

    async def _git(self, *args: str, cwd: Path | None = None) -> ToolResult:
        try:
            return await run_tool(
                ["git", *_COMMITTER, *args],
                cwd=cwd,
                env=_GIT_ENV,
                limit_seconds=GIT_TIMEOUT_SECONDS,
            )
        except TimeoutError as exc:
            raise RegistryUnavailableError(
                f"{self.registry}: git {args[0]} timed out: {exc}"
            ) from None
        except FileNotFoundError:
            raise PublishRejectedError("git is not installed; run scripts/setup.sh") from None

    def _failure(self, action: str, result: ToolResult) -> SdkReleaseError:
        text = redact_url_credentials(result.tail())
        url = redact_url_credentials(self.config.go_repository_url)
        message = f"{self.registry} ({url}): {action} failed: {text}"
        lowered = text.lower()
        if "already exists" in lowered and "tag" in lowered:
            return PublishRejectedError(message, maybe_exists=True)
        if any(hint in lowered for hint in _REJECTED_HINTS):
            return PublishRejectedError(message)
        if any(hint in lowered for hint in _UNAVAILABLE_HINTS):
            return RegistryUnavailableError(message)
        return RegistryUnavailableError(message)

    async def _remote_refs(self, pattern: str) -> dict[str, str]:
        result = await self._git("ls-remote", self.config.go_repository_url, pattern)
        if not result.ok:
            raise self._failure("ls-remote", result)
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            object_id, _, ref = line.partition("\t")
            refs[ref] = object_id
        return refs

    async def _init(self, folder: Path) -> None:
        result = await self._git("init", "-q", "-b", "main", str(folder))
        if not result.ok:
            raise PublishRejectedError(f"git init failed: {result.tail()}")

    async def _tree_of_artifact(self, folder: Path, module_zip: Path) -> str:
        """Write the zip's files into the index of the repository in `folder`; return the tree."""
        with zipfile.ZipFile(module_zip) as archive:
            archive.extractall(folder)
        for args in (("add", "-A"), ("write-tree",)):
            result = await self._git(*args, cwd=folder)
            if not result.ok:
                raise PublishRejectedError(f"git {args[0]} failed: {result.tail()}")
        return result.stdout.strip()

    async def _fetch(self, folder: Path, ref: str) -> bool:
        result = await self._git(
            "fetch", "-q", "--depth=1", self.config.go_repository_url, ref, cwd=folder
        )
        if result.ok:
            return True
        if "couldn't find remote ref" in result.tail().lower():
            return False
        raise self._failure(f"fetch {ref}", result)

    async def _remote_tree(self, folder: Path, tag: str) -> str | None:
        if not await self._fetch(folder, f"refs/tags/{tag}"):
            return None
        result = await self._git("rev-parse", "FETCH_HEAD^{tree}", cwd=folder)
        if not result.ok:
            raise self._failure("rev-parse", result)
        return result.stdout.strip()

    async def holds(self, artifact: StagedArtifact, files: dict[str, Path]) -> bool:
        """Return True when the tag exists and points at a tree equal to the staged files."""
        tag = artifact.registry_version
        refs = await self._remote_refs(f"refs/tags/{tag}")
        if f"refs/tags/{tag}" not in refs:
            return False
        with tempfile.TemporaryDirectory(prefix="go-tag-") as name:
            folder = Path(name)
            await self._init(folder)
            remote = await self._remote_tree(folder, tag)
            local = await self._tree_of_artifact(folder, files[artifact.primary.name])
        if remote != local:
            raise self.conflict(artifact, f"tag {tag} has tree {remote}, ours {local}")
        return True

    async def upload(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Commit the module files on top of `main` and push `main` and the tag atomically."""
        tag = artifact.registry_version
        url = self.config.go_repository_url
        with tempfile.TemporaryDirectory(prefix="go-publish-") as name:
            folder = Path(name)
            await self._init(folder)
            has_main = await self._fetch(folder, "refs/heads/main")
            if has_main:
                result = await self._git("reset", "-q", "--soft", "FETCH_HEAD", cwd=folder)
                if not result.ok:
                    raise self._failure("reset", result)
            await self._tree_of_artifact(folder, files[artifact.primary.name])
            steps = [
                ("commit", "-q", "--allow-empty", "-m", f"Release {artifact.package} {tag}"),
                ("tag", "-a", tag, "-m", f"{artifact.package} {tag}"),
            ]
            for args in steps:
                result = await self._git(*args, cwd=folder)
                if not result.ok:
                    raise PublishRejectedError(f"git {args[0]} failed: {result.tail()}")
            result = await self._git(
                "push", "--atomic", url, "HEAD:refs/heads/main", f"refs/tags/{tag}", cwd=folder
            )
            if not result.ok:
                raise self._failure(f"push of {tag}", result)
        log.info("pushed tag=%s repository=%s", tag, redact_url_credentials(url))

    async def latest_version(self) -> str | None:
        """Return the highest release version among the repository's `v*` tags."""
        refs = await self._remote_refs("refs/tags/v*")
        versions = [
            release
            for ref in refs
            if not ref.endswith("^{}")
            and (release := from_registry_version(self.language, ref.removeprefix("refs/tags/")))
        ]
        return max_version(versions)

    def location(self, artifact: StagedArtifact) -> str:
        """Return the module path and tag, as `go get` takes them."""
        return f"{artifact.package}@{artifact.registry_version}"
