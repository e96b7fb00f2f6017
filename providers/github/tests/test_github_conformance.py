"""The github provider type against the hub's provider conformance kit, with the fake GitHub
(expiring tokens, single-use refresh tokens) as its IdP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hub_github
import pytest
import requests
from hub_github.fake import FakeGitHub

from hub.testing.app import query_of
from hub.testing.conformance import ConformanceAdapter, ProviderConformance

MISBEHAVIOURS = {
    "server_error": ("http_error", {"endpoint": "token", "status": 502}),
    "timeout": ("slow", {"endpoint": "token", "seconds": 1.2}),
}


class GitHubAdapter(ConformanceAdapter):
    plugin = hub_github
    plugin_name = "github"
    users = ("ada", "grace")
    has_id_token = False
    single_use_refresh_tokens = True

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return {"type": "github", **self.github.provider_settings()}

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        self.github.auto_sign_in = user
        response = requests.get(authorization_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:300]
        return query_of(response.headers["Location"])

    def token_calls(self) -> int:
        return self.github.requests["token"]

    def misbehave(self, kind: str) -> bool:
        if kind not in MISBEHAVIOURS:
            return False
        name, options = MISBEHAVIOURS[kind]
        self.github.misbehave(name, **options)
        return True

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        if endpoint != "profile" or kind not in {"server_error", "timeout"}:
            return False
        if kind == "server_error":
            self.github.misbehave("http_error", endpoint="user", status=502)
        else:
            self.github.misbehave("slow", endpoint="user", seconds=1.2)
        return True

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        self.github.misbehave("authorize_error")
        return self.approve(authorization_url, user)

    def expected_profile(self, user: str) -> dict[str, Any]:
        return {"display_name": "Ada Example", "email": "ada@example.test", "email_verified": True, "username": "ada"} if user == "ada" else {}

    def change_email(self, user: str, email: str) -> bool:
        self.github.change_email(user, email)
        return True


class TestGitHubConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self) -> Iterator[GitHubAdapter]:
        with FakeGitHub() as github:
            yield GitHubAdapter(github)
