"""Build each SDK from its sources with that ecosystem's own toolchain.

Every build copies the sources into a fresh folder, writes the release
version into them, and runs the ecosystem's tools there, so the repository
stays untouched and nothing downloads: the SDKs have no dependencies, pip
builds without isolation and Go runs with GOPROXY=off. Timestamps inside
the archives are fixed, so rebuilding a version yields the same bytes
where the toolchain allows it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from portal.sdk.config import (
    MAVEN_ARTIFACT,
    MAVEN_GROUP,
    NPM_PACKAGE,
    PYTHON_PACKAGE,
    SdkConfig,
    find_tool,
)
from portal.sdk.errors import BuildFailedError, SdkReleaseError
from portal.sdk.languages import Language
from portal.sdk.tools import run_tool
from portal.sdk.versions import registry_version

log = logging.getLogger(__name__)

# Fixed archive timestamps (2000-01-01T00:00:00Z) make rebuilt artifacts byte-identical.
SOURCE_DATE_EPOCH = 946684800
ARCHIVE_DATE = "2000-01-01T00:00:00Z"
BUILD_TIMEOUT_SECONDS = 240.0
POM_NAMESPACE = "http://maven.apache.org/POM/4.0.0"


def package_name(language: Language, config: SdkConfig) -> str:
    """Return the package name users install: PyPI name, npm name, module path or G:A."""
    return {
        Language.PYTHON: PYTHON_PACKAGE,
        Language.TYPESCRIPT: NPM_PACKAGE,
        Language.GO: config.go_module,
        Language.JAVA: f"{MAVEN_GROUP}:{MAVEN_ARTIFACT}",
    }[language]


def _require_tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        raise BuildFailedError(f"{name} is not installed; run scripts/setup.sh to install it")
    return found


async def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    try:
        result = await run_tool(argv, cwd=cwd, env=env, limit_seconds=BUILD_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        # A build that times out on a busy machine may pass on the next attempt.
        raise SdkReleaseError(str(exc)) from None
    if not result.ok:
        command = " ".join([Path(argv[0]).name, *argv[1:3]])
        raise BuildFailedError(f"`{command}` failed: {result.tail()}")
    return result.stdout


def _copy_sources(config: SdkConfig, folder: str, workdir: Path) -> Path:
    source = config.source_dir / folder
    if not source.is_dir():
        raise BuildFailedError(f"SDK sources not found at {source}; set PORTAL_SDK_SOURCE_DIR")
    target = workdir / "src"
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(
            "node_modules", "dist", "build", "__pycache__", "*.egg-info", "target"
        ),
    )
    return target


def _replace_line(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    updated, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise BuildFailedError(f"{path.name} has no line matching {pattern!r} to stamp")
    path.write_text(updated)


async def build_python(config: SdkConfig, version: str, workdir: Path) -> list[Path]:
    """Build the wheel with `python -m build --no-isolation`."""
    source = _copy_sources(config, "python", workdir)
    pep440 = registry_version(Language.PYTHON, version)
    _replace_line(
        source / "src" / "example_sms_verify" / "_version.py",
        r"^__version__ = .*$",
        f'__version__ = "{pep440}"',
    )
    out = workdir / "out"
    await _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=source,
        env={"SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)},
    )
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildFailedError(f"python -m build produced {len(wheels)} wheels, expected 1")
    return wheels


async def build_typescript(config: SdkConfig, version: str, workdir: Path) -> list[Path]:
    """Compile with `tsc`, stamp the version with `npm version` and pack with `npm pack`."""
    npm = _require_tool("npm")
    tsc = _require_tool("tsc")
    source = _copy_sources(config, "typescript", workdir)
    quiet = {"npm_config_update_notifier": "false", "npm_config_fund": "false"}
    await _run(
        [npm, "version", version, "--no-git-tag-version", "--allow-same-version"],
        cwd=source,
        env=quiet,
    )
    _replace_line(
        source / "src" / "version.ts",
        r"^export const VERSION = .*$",
        f'export const VERSION = "{version}";',
    )
    await _run([tsc, "-p", "tsconfig.json"], cwd=source)
    out = workdir / "out"
    out.mkdir()
    packed = await _run(
        [npm, "pack", "--json", "--pack-destination", str(out)], cwd=source, env=quiet
    )
    try:
        filename = json.loads(packed)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        raise BuildFailedError(
            f"npm pack printed no package description: {packed[-500:]}"
        ) from None
    return [out / filename]


def _write_zip(files: list[tuple[str, Path]], target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


async def build_go(config: SdkConfig, version: str, workdir: Path) -> list[Path]:
    """Check the module with `go vet` and `go build`, then zip its files for the tag."""
    go = _require_tool("go")
    source = _copy_sources(config, "go", workdir)
    _replace_line(source / "version.go", r"^const Version = .*$", f'const Version = "{version}"')
    env = {
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "CGO_ENABLED": "0",
    }
    await _run([go, "vet", "./..."], cwd=source, env=env)
    await _run([go, "build", "./..."], cwd=source, env=env)
    files = [
        (path.relative_to(source).as_posix(), path) for path in source.rglob("*") if path.is_file()
    ]
    target = workdir / "out" / f"verify-go-{registry_version(Language.GO, version)}.zip"
    target.parent.mkdir()
    _write_zip(files, target)
    return [target]


def _stamp_pom(source: Path, version: str) -> Path:
    ElementTree.register_namespace("", POM_NAMESPACE)
    ElementTree.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    tree = ElementTree.parse(source / "pom.xml")
    element = tree.getroot().find(f"{{{POM_NAMESPACE}}}version")
    if element is None:
        raise BuildFailedError("sdks/java/pom.xml has no <version> to stamp")
    element.text = version
    target = source / "out-pom.xml"
    tree.write(target, encoding="UTF-8", xml_declaration=True)
    return target


async def build_java(config: SdkConfig, version: str, workdir: Path) -> list[Path]:
    """Compile with `javac --release 11` and package with `jar`; return the jar and its POM."""
    javac = _require_tool("javac")
    jar = _require_tool("jar")
    source = _copy_sources(config, "java", workdir)
    pom = _stamp_pom(source, version)
    classes = workdir / "classes"
    java_files = sorted(str(path) for path in (source / "src" / "main" / "java").rglob("*.java"))
    if not java_files:
        raise BuildFailedError("no .java files found in sdks/java/src/main/java")
    await _run(
        [javac, "--release", "11", "-encoding", "UTF-8", "-d", str(classes), *java_files],
        cwd=source,
    )
    maven_dir = classes / "META-INF" / "maven" / MAVEN_GROUP / MAVEN_ARTIFACT
    maven_dir.mkdir(parents=True)
    shutil.copyfile(pom, maven_dir / "pom.xml")
    manifest = workdir / "MANIFEST.MF"
    manifest.write_text(
        "Manifest-Version: 1.0\n"
        f"Implementation-Title: {MAVEN_ARTIFACT}\n"
        f"Implementation-Version: {version}\n"
        f"Implementation-Vendor-Id: {MAVEN_GROUP}\n"
        "Automatic-Module-Name: com.examplesms.verify\n"
    )
    out = workdir / "out"
    out.mkdir()
    jar_path = out / f"{MAVEN_ARTIFACT}-{version}.jar"
    await _run(
        [
            jar,
            "--create",
            f"--date={ARCHIVE_DATE}",
            "--file",
            str(jar_path),
            f"--manifest={manifest}",
            "-C",
            str(classes),
            ".",
        ],
        cwd=workdir,
    )
    pom_path = out / f"{MAVEN_ARTIFACT}-{version}.pom"
    shutil.copyfile(pom, pom_path)
    return [jar_path, pom_path]


BUILDERS = {
    Language.PYTHON: build_python,
    Language.TYPESCRIPT: build_typescript,
    Language.GO: build_go,
    Language.JAVA: build_java,
}


async def build_artifact(
    config: SdkConfig, language: Language, version: str, workdir: Path
) -> list[Path]:
    """Build `language`'s SDK at `version` in `workdir`; return its files, primary first.

    Raises:
        BuildFailedError: when a tool is missing or fails; the message carries its output.
    """
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    log.info("building sdk language=%s version=%s", language, version)
    files = await BUILDERS[language](config, version, workdir)
    log.info(
        "built sdk language=%s version=%s files=%s",
        language,
        version,
        ",".join(path.name for path in files),
    )
    return files
