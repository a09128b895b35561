"""Real language toolchains that check snippets, with batched runs to keep the suite fast.

With `CI=true` a missing toolchain fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# Debian package that provides each tool, for the failure message.
TOOL_PACKAGES = {
    "bash": "bash",
    "curl": "curl",
    "node": "nodejs",
    "javac": "openjdk-17-jdk-headless",
    "java": "openjdk-17-jdk-headless",
    "keytool": "openjdk-17-jdk-headless",
    "go": "golang-go",
    "gofmt": "golang-go",
    "mcs": "mono-mcs and libmono-system-net-http4.0-cil",
    "mono": "mono-runtime",
    "dash": "dash",
}
WORKERS = 2


def require_tool(name: str) -> str:
    """Return the path of tool `name`, or fail (under CI) or skip the test if it is missing."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} is not installed; install the Debian package {TOOL_PACKAGES.get(name, name)}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(command: list[str], cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
    """Run `command` and return the completed process (never raises on a non-zero exit)."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def parallel(function, items):
    """Map `function` over `items` on at most `WORKERS` threads and return a list."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(function, items))


def check_shell(files: list[Path]) -> dict[Path, str]:
    """Parse each script with `bash -n` and `dash -n`; return the errors by file."""
    bash, dash = require_tool("bash"), require_tool("dash")

    def one(path: Path) -> tuple[Path, str]:
        errors = []
        for shell in (bash, dash):
            result = run([shell, "-n", str(path)])
            if result.returncode != 0:
                errors.append(f"{Path(shell).name}: {result.stderr.strip()}")
        return path, "\n".join(errors)

    return {path: error for path, error in parallel(one, files) if error}


def check_python(files: list[Path]) -> dict[Path, str]:
    """Parse each file with Python's own parser (`ast.parse`); return the errors by file."""
    errors = {}
    for path in files:
        try:
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            errors[path] = f"{exc.msg} at line {exc.lineno}"
    return errors


def check_javascript(files: list[Path]) -> dict[Path, str]:
    """Parse each module with `node --check`; return the errors by file."""
    node = require_tool("node")

    def one(path: Path) -> tuple[Path, str]:
        result = run([node, "--check", str(path)])
        return path, "" if result.returncode == 0 else result.stderr.strip()

    return {path: error for path, error in parallel(one, files) if error}


def check_go(module_dir: Path) -> str:
    """Check every `*/main.go` under `module_dir` with `gofmt -e -l` and `go vet`.

    One `go vet ./...` type-checks all packages together (one main package per
    folder), which is far faster than a build per snippet.

    Returns:
        The tools' complaints, or an empty string.
    """
    gofmt, go = require_tool("gofmt"), require_tool("go")
    files = sorted(str(path) for path in module_dir.glob("*/main.go"))
    problems = []
    result = run([gofmt, "-e", "-l", *files])
    if result.returncode != 0 or result.stdout.strip():
        problems.append(f"gofmt -e -l:\n{result.stdout}{result.stderr}")
    (module_dir / "go.mod").write_text("module snippets\n\ngo 1.16\n", encoding="utf-8")
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GO111MODULE": "on",
        "GOCACHE": os.environ.get("GOCACHE", str(Path.home() / ".cache" / "go-build")),
    }
    result = run([go, "vet", "./..."], cwd=module_dir, env=env)
    if result.returncode != 0:
        problems.append(f"go vet:\n{result.stdout}{result.stderr}")
    return "\n".join(problems)


def check_java(files: list[Path], out_dir: Path) -> str:
    """Compile every file in one `javac` run; return the compiler's errors, if any."""
    javac = require_tool("javac")
    result = run(
        [
            javac,
            "-encoding",
            "US-ASCII",
            "-Xlint:all",
            "-Werror",
            "-d",
            str(out_dir),
            *map(str, files),
        ]
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def check_csharp(files: list[Path], out_file: Path) -> str:
    """Compile every file in one Mono `mcs` run as a library; return the errors, if any."""
    mcs = require_tool("mcs")
    result = run(
        [
            mcs,
            "-target:library",
            "-warnaserror+",
            "-r:System.Net.Http",
            f"-out:{out_file}",
            *map(str, files),
        ]
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr
