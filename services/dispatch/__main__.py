"""`python -m services.dispatch` runs the local dispatch server."""

import asyncio
import sys

from portal.logging import configure_logging
from portal.settings import SettingsError, load_settings
from services.dispatch.server import serve

try:
    settings = load_settings()
except SettingsError as exc:
    print(f"invalid settings:\n{exc}", file=sys.stderr)
    sys.exit(2)
configure_logging(settings.log_level, service="dispatch")
asyncio.run(serve(settings.dispatch_address, settings.host, settings.dispatch_admin_port))
