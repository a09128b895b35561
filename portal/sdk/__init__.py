"""SDK releases: version rules, artifact builds, registry publishers and the issue tracker.

One release ships one version of the Verify SDK in every language. The
workflow in `workflows/sdk_release.py` drives it; this package holds the code
that talks to toolchains and registries, so activities stay thin.
"""
