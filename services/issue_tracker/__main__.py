"""`python -m services.issue_tracker` runs the local issue tracker on PORTAL_SDK_TRACKER_PORT."""

import sys

import uvicorn

from portal.logging import configure_logging
from portal.settings import SettingsError, load_settings
from services.issue_tracker.app import create_app

try:
    settings = load_settings()
except SettingsError as exc:
    print(f"invalid settings:\n{exc}", file=sys.stderr)
    sys.exit(2)
configure_logging(settings.log_level, service="issue-tracker")
app = create_app(
    settings.state_dir.resolve() / "issue-tracker" / "issues.json",
    settings.sdk_tracker_token.get_secret_value(),
)
uvicorn.run(
    app, host=settings.host, port=settings.sdk_tracker_port, log_config=None, access_log=False
)
