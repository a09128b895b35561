"""Local stand-in for the auth-service, which owns API keys and portal users.

It honours the `auth.v1` contract in `protos/auth/v1/auth.proto` for local
development and tests: `python -m services.auth_service`.
"""
