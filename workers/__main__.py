"""`python -m workers` runs the portal's worker process."""

import sys
import traceback

from portal.logging import configure_logging
from portal.process import end_process, run_event_loop
from portal.settings import SettingsError, load_settings
from workers.main import run_worker

try:
    settings = load_settings()
except SettingsError as exc:
    print(f"invalid settings:\n{exc}", file=sys.stderr)
    sys.exit(2)
configure_logging(settings.log_level, service="worker")
try:
    run_event_loop(run_worker(settings))
except Exception:
    traceback.print_exc()
    end_process(1)
end_process(0)
