"""The portal's HTTP API (FastAPI)."""
