"""Starting with a shared rate-limit storage: Redis must answer at start, and its loss later is an ERROR."""

from __future__ import annotations

import os
import socket

import pytest

from hub.app import create_app
from hub.core.config import load_settings
from hub.errors import ConfigError

REDIS = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe goes


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def test_a_redis_that_does_not_answer_stops_the_start(hub_config, plugins):
    storage = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    settings = load_settings(environ={}, overrides={**hub_config, "ratelimit_storage": storage})
    with pytest.raises(ConfigError, match=r"ratelimit_storage: redis://:\*\*\*@127\.0\.0\.1:\d+/0 does not answer"):
        create_app(settings=settings, plugins=plugins)  # before: started, counting per process


def test_a_redis_that_answers_is_used(hub_config, plugins):
    if not _redis_answers():
        pytest.skip(f"no Redis at {REDIS}")
    settings = load_settings(
        environ={}, overrides={**hub_config, "ratelimit_storage": REDIS, "ratelimit_key_prefix": "hub-test-h7-start"}
    )
    app = create_app(settings=settings, plugins=plugins)
    try:
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["hub"].close()


def test_a_redis_that_goes_away_is_an_error_naming_it(hub_config, plugins, caplog):
    """Flask-Limiter's "storage unreachable - falling back to in-memory" was a WARNING: for the
    hub it means each worker now allows the full limit."""
    if not _redis_answers():
        pytest.skip(f"no Redis at {REDIS}")
    settings = load_settings(
        environ={}, overrides={**hub_config, "ratelimit_storage": REDIS, "ratelimit_key_prefix": "hub-test-h7-start"}
    )
    app = create_app(settings=settings, plugins=plugins)
    try:
        limiter = app.extensions["hub.web.ratelimit"].limiter
        with caplog.at_level("WARNING", logger=limiter.logger.name):
            limiter.logger.warning("Rate limit storage unreachable - falling back to in-memory storage")
        (record,) = caplog.records
        assert record.levelname == "ERROR"
        assert record.getMessage().startswith(f"rate-limit storage {REDIS} unreachable: each process counts on its own")
    finally:
        app.extensions["hub"].close()
