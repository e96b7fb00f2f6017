"""Whether a configuration may serve in production: one check, run wherever the hub starts.

`hub serve --production`, `gunicorn hub.wsgi:app` with HUB_PRODUCTION=true and every `hub`
command under HUB_PRODUCTION reach it through Runtime.load, before anything is written (no
development secrets file, no database file), so a refused start leaves the machine as it was.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.core.config import Settings, production_problems
from hub.core.errors import ConfigError
from hub.core.secrets import secret_problems


class ProductionRefused(ConfigError):
    """The configuration is unsafe for production: one line per problem, each saying what to set."""

    code = "production_refused"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"refusing to start in production: {problem}" for problem in problems))
        self.problems = problems


def check(settings: Settings, redirect_uris: Mapping[str, str]) -> None:
    """Raise ProductionRefused listing every problem, or return when there is none."""
    given = {"secret_key": settings.secret_key, "token_keys": settings.token_keys, "audit_key": settings.audit_key}
    missing = {name for name, value in given.items() if not value}
    problems = production_problems(settings, redirect_uris, missing)
    problems += secret_problems(given)
    if problems:
        raise ProductionRefused(problems)
