"""`python -m services.auth_service` runs the local auth-service until SIGINT or SIGTERM."""

import asyncio
import sys

from portal.logging import configure_logging
from portal.settings import SettingsError, load_settings
from services.auth_service.server import serve

try:
    settings = load_settings()
except SettingsError as exc:
    print(f"invalid settings:\n{exc}", file=sys.stderr)
    sys.exit(2)
configure_logging(settings.log_level, service="auth-service")
asyncio.run(serve(settings))
