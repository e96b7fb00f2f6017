"""gunicorn's own log lines (master and workers) through the hub's handler: JSON too under HUB_LOG_FORMAT=json.

`hub serve --production` uses it; a hub run with `gunicorn hub.wsgi:app` asks for it with
`--logger-class hub.web.gunicornlog.HubGunicornLogger`. Without it gunicorn writes its own text
lines ("Booting worker", "Worker timeout") beside the hub's JSON, which a log pipeline that
parses every line as JSON drops or rejects.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from hub.core.config import load_settings
from hub.core.errors import ConfigError
from hub.web import logs


class HubGunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's Logger whose error (and, if enabled, access) log propagates to the hub's
    root handler instead of writing through handlers of its own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not logs.is_configured():  # the master of `gunicorn hub.wsgi:app` has not built the app
            try:
                settings = load_settings()
            except ConfigError:  # the app will say what is wrong; keep gunicorn's own lines
                return
            logs.configure(settings.log_format, settings.log_level)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if not isinstance(handler, logging.NullHandler):
                    log.removeHandler(handler)
            log.propagate = True
