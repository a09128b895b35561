"""The Varnish configuration of the local CDN edge, rendered from `deploy/varnish/default.vcl`."""

from __future__ import annotations

from pathlib import Path

VCL_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "varnish" / "default.vcl"


def vcl_source(
    *,
    origin_host: str,
    origin_port: int,
    bucket: str,
    purger_address: str,
    template: Path = VCL_TEMPLATE,
) -> str:
    """Return the edge's VCL for an S3 origin at `origin_host:origin_port`.

    Args:
        origin_host: Host of the S3 endpoint (moto locally).
        origin_port: Port of the S3 endpoint.
        bucket: Docs bucket, addressed path-style.
        purger_address: The only client address whose PURGE and BAN the edge accepts.
        template: VCL with `{{ORIGIN_HOST}}`, `{{ORIGIN_PORT}}`, `{{DOCS_BUCKET}}`
            and `{{PURGER_ADDRESS}}` placeholders.
    """
    return (
        template.read_text()
        .replace("{{ORIGIN_HOST}}", origin_host)
        .replace("{{ORIGIN_PORT}}", str(origin_port))
        .replace("{{DOCS_BUCKET}}", bucket)
        .replace("{{PURGER_ADDRESS}}", purger_address)
    )
