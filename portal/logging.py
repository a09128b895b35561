"""Logging set-up shared by every portal process.

Records are single-line `key=value` text on stderr, so `portal up` can copy
them into per-service log files and operators can grep them.
"""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def configure_logging(level: str = "INFO", service: str | None = None) -> None:
    """Send log records of `level` and above to stderr, tagged with the service name."""
    prefix = f"service={service} " if service else ""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT.replace("%(message)s", prefix + "%(message)s")))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines from botocore and httpx repeat at every call and say nothing new.
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
