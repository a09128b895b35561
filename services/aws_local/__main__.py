"""Run moto's server with its S3, CloudFront and KMS state persisted to a file.

Usage: python -m services.aws_local --host 127.0.0.1 --port 4566 --state FILE
"""

from __future__ import annotations

import argparse
import copyreg
import hashlib
import logging
import os
import pickle
import signal
import threading
from pathlib import Path

from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import serialization
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

log = logging.getLogger("aws_local")

# The services the portal calls; others stay in memory only.
PERSISTED_SERVICES = ("kms", "s3", "cloudfront")
SNAPSHOT_INTERVAL_SECONDS = 5.0


def _load_private_key(der: bytes):
    return serialization.load_der_private_key(der, password=None)


def _reduce_private_key(key):
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_private_key, (der,)


# moto's KMS keys hold `cryptography` private keys, which pickle cannot store as
# they are. copyreg needs the concrete classes, which live in the Rust bindings.
for key_type in (
    rust_openssl.rsa.RSAPrivateKey,
    rust_openssl.ec.ECPrivateKey,
    rust_openssl.ed25519.Ed25519PrivateKey,
):
    copyreg.pickle(key_type, _reduce_private_key)


def restore(path: Path) -> None:
    """Load a snapshot written by `snapshot` into moto's live backends."""
    if not path.exists():
        log.info("no snapshot at %s; starting empty", path)
        return
    with path.open("rb") as handle:
        # The file is written only by this server, into the private state directory.
        saved = pickle.load(handle)  # noqa: S301
    for service, backends in saved.items():
        live = get_backend(service)
        for account in backends.keys():
            for region in backends[account].keys():
                live[account][region] = backends[account][region]
    log.info("restored services=%s from %s", ",".join(saved), path)


def snapshot(path: Path, last_digest: bytes | None) -> bytes | None:
    """Write moto's state to `path` atomically when it changed; return the new digest."""
    data = {service: get_backend(service) for service in PERSISTED_SERVICES}
    try:
        blob = pickle.dumps(data)
    except RuntimeError as exc:
        # A request thread changed a dict mid-pickle; the next round takes it.
        log.warning("snapshot skipped error=%r", exc)
        return last_digest
    except (TypeError, pickle.PicklingError) as exc:
        log.error("snapshot failed; state since the last snapshot is not saved error=%r", exc)
        return last_digest
    digest = hashlib.sha256(blob).digest()
    if digest == last_digest:
        return digest
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return digest


def main() -> None:
    """Serve until SIGTERM or SIGINT, snapshotting every few seconds and at exit."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind.")
    parser.add_argument("--port", type=int, default=4566, help="TCP port to listen on.")
    parser.add_argument("--state", type=Path, required=True, help="Snapshot file.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s level=%(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    args.state.parent.mkdir(parents=True, exist_ok=True)
    restore(args.state)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    log.info("local AWS started host=%s port=%d state=%s", args.host, args.port, args.state)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    digest: bytes | None = None
    while not stop.wait(SNAPSHOT_INTERVAL_SECONDS):
        digest = snapshot(args.state, digest)

    server.stop()
    snapshot(args.state, digest)
    log.info("local AWS stopped; state saved to %s", args.state)


if __name__ == "__main__":
    main()
