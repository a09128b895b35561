"""Benchmark of the KMS payload codec against a floor measured in the same run.

Run it with `.venv/bin/python bench/codec.py`. It starts moto's KMS in a
thread on a free port, then for payloads of several sizes measures:

- the floor: the portal's pydantic payload conversion alone, value to payload
  and back, as every workflow and activity call pays it without encryption;
- the codec: the same conversion plus `EncryptionCodec.encode` and `decode`
  (AES-256-GCM with a cached data key, which is the steady state: KMS is
  called once per data key, not per payload).

Target: a round trip through the codec costs at most 4 times the floor for
payloads up to 64 KiB. The factor is this benchmark's own budget, chosen so
encryption stays a small share of a workflow task, which also pays a gRPC
round trip to Temporal. It prints one table and writes the figures to
`bench/results/codec-<time>.json`. Figures depend on the machine and on what
else runs on it; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import sys
import time
from pathlib import Path

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parent.parent
sys.path.insert(0, str(ROOT))

from moto.server import ThreadedMotoServer  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from portal.codec import build_codec  # noqa: E402
from portal.settings import load_settings  # noqa: E402

TARGET_RATIO = 4.0
SIZES = (128, 1024, 16 * 1024, 64 * 1024)


class SamplePayload(BaseModel):
    """A workflow input of about `size` bytes: ids, a phone number and free text."""

    session_id: str
    phone_number: str
    note: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def measure(size: int, rounds: int, codec) -> dict[str, float]:  # noqa: ANN001
    converter = pydantic_data_converter.payload_converter
    value = SamplePayload(session_id="s" * 16, phone_number="+14155550123", note="x" * size)

    def floor_round() -> None:
        payloads = converter.to_payloads([value])
        converter.from_payloads(payloads, [SamplePayload])

    async def codec_round() -> None:
        payloads = converter.to_payloads([value])
        decoded = await codec.decode(await codec.encode(payloads))
        converter.from_payloads(decoded, [SamplePayload])

    await codec_round()  # creates the data key through KMS once
    floor_times, codec_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        floor_round()
        floor_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await codec_round()
        codec_times.append(time.perf_counter() - started)
    floor_us = statistics.median(floor_times) * 1e6
    codec_us = statistics.median(codec_times) * 1e6
    return {
        "size_bytes": size,
        "floor_median_us": round(floor_us, 1),
        "codec_median_us": round(codec_us, 1),
        "ratio": round(codec_us / floor_us, 2),
    }


async def run(rounds: int) -> list[dict[str, float]]:
    port = free_port()
    # moto's HTTP server logs every request; the table is the output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        settings = load_settings(environment="test", aws_endpoint_url=f"http://127.0.0.1:{port}")
        codec = build_codec(settings)
        return [await measure(size, rounds, codec) for size in SIZES]
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="Round trips per size.")
    args = parser.parse_args()

    results = asyncio.run(run(args.rounds))
    print(f"{'size':>8} {'floor us':>10} {'codec us':>10} {'ratio':>6}  target <= {TARGET_RATIO}")
    for row in results:
        verdict = "ok" if row["ratio"] <= TARGET_RATIO else "OVER"
        print(
            f"{row['size_bytes']:>8} {row['floor_median_us']:>10} {row['codec_median_us']:>10} "
            f"{row['ratio']:>6}  {verdict}"
        )
    out = ROOT / "bench" / "results" / f"codec-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"target_ratio": TARGET_RATIO, "results": results}, indent=2))
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0 if all(row["ratio"] <= TARGET_RATIO for row in results) else 1


if __name__ == "__main__":
    sys.exit(main())
