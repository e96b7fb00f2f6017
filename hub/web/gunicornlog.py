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


class _QueryStringsDropped(logging.Filter):
    """gunicorn logs a failed request's URI ("Error handling request %s"), query string and all:
    a callback's `?code=...&state=...`. Keep the path only, as the hub's own access log does."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_path_only(arg) for arg in record.args)
        return True


def _path_only(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.partition("?")[0] + "?[query dropped]"
    return value


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
        self.error_log.addFilter(_QueryStringsDropped())
