"""The tutorial-compatible callback route (a provider's redirect URI at another path, such as
/callback) is the same view as /auth/<id>/callback: rate limited like it, with nothing logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from hub.app import create_app
from hub.core.config import load_settings
from tests.conftest import BASE_URL


@pytest.fixture
def tutorial_app(hub_config, plugins) -> Iterator[Flask]:
    fake = {**hub_config["providers"]["fake"], "redirect_uri": f"{BASE_URL}/callback"}
    overrides = {**hub_config, "providers": {"fake": fake}, "ratelimit_callback": "3 per minute"}
    app = create_app(settings=load_settings(environ={}, overrides=overrides), plugins=plugins)
    yield app
    app.extensions["hub"].close()


def test_the_tutorial_callback_path_is_rate_limited_and_logs_no_traceback(tutorial_app, caplog):
    client = tutorial_app.test_client()
    with caplog.at_level(logging.INFO):
        answers = [client.get("/callback?state=forged&code=x").status_code for _ in range(5)]
    assert answers == [400, 400, 400, 429, 429]
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_both_callback_paths_share_one_budget(tutorial_app):
    client = tutorial_app.test_client()
    answers = [client.get(path).status_code
               for path in ["/callback?state=a&code=x", "/auth/fake/callback?state=b&code=x"] * 2]
    assert answers == [400, 400, 400, 429]
