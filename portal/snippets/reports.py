"""User reports about a snippet, kept in a bounded JSON-lines file."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Keeping only the newest reports bounds the file; triage reads recent ones.
DEFAULT_MAX_REPORTS = 10_000


class ReportStore:
    """Append-only store of snippet reports that keeps the newest `max_reports`.

    Args:
        path: JSON-lines file, one report per line; its folder is created.
        max_reports: Number of reports kept; older ones are dropped on append.
    """

    def __init__(self, path: Path, max_reports: int = DEFAULT_MAX_REPORTS) -> None:
        if max_reports < 1:
            raise ValueError(f"max_reports must be at least 1, got {max_reports}")
        self.path = path
        self.max_reports = max_reports
        self._lock = threading.Lock()

    def append(self, report: dict[str, Any]) -> dict[str, Any]:
        """Store `report` with a `received_at` UTC timestamp and return the stored record."""
        record = {**report, "received_at": datetime.now(UTC).isoformat()}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lines = self._read_lines()
            lines.append(line)
            kept = lines[-self.max_reports :]
            temporary = self.path.with_suffix(self.path.suffix + ".tmp")
            temporary.write_text("".join(item + "\n" for item in kept), encoding="utf-8")
            temporary.replace(self.path)
        return record

    def all(self) -> list[dict[str, Any]]:
        """Return the stored reports, oldest first."""
        with self._lock:
            return [json.loads(line) for line in self._read_lines()]

    def _read_lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
