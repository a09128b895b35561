"""Entry point for uvicorn: `uvicorn api.main:app`."""

from api.app import create_app
from portal.logging import configure_logging
from portal.settings import get_settings

configure_logging(get_settings().log_level, service="api")
app = create_app()
