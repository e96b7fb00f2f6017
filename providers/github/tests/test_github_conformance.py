"""The github provider type against the hub's provider conformance kit, with the fake GitHub
(expiring tokens, single-use refresh tokens) as its IdP."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import hub_github
from hub.testing.app import query_of
from hub.testing.conformance import ConformanceAdapter, ProviderConformance
from hub_github.fake import FakeGitHub

MISBEHAVIOURS = {
    "server_error": ("http_error", {"endpoint": "token", "status": 502}),
    "timeout": ("slow", {"endpoint": "token", "seconds": 1.2}),
}


ENDPOINTS = {"token": "token", "profile": "user", "revoke": "revoke"}
"""The kit's endpoint names -> the fake GitHub's."""


class GitHubAdapter(ConformanceAdapter):
    plugin = hub_github
    plugin_name = "github"
    users = ("ada", "grace")
    has_id_token = False
    single_use_refresh_tokens = True
    account_states = ()
    """GitHub's API reports no account state: a suspended user cannot authorize an OAuth app at
    all, so the provider never sees one."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        self.logins = {user: user for user in self.users}

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return {"type": "github", **self.github.provider_settings()}

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        self.github.auto_sign_in = self.logins[user]
        response = requests.get(authorization_url, allow_redirects=False, timeout=10, verify=self.github.browser_verify)
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
        if endpoint not in ENDPOINTS:
            return False
        where = ENDPOINTS[endpoint]
        if kind == "server_error":
            self.github.misbehave("http_error", endpoint=where, status=502)
        elif kind == "timeout":
            self.github.misbehave("slow", endpoint=where, seconds=1.2)
        elif kind in {"html", "invalid_json", "empty"}:
            self.github.misbehave("canned", endpoint=where, kind=kind)
        else:
            return False
        return True

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        self.github.misbehave("authorize_error")
        return self.approve(authorization_url, user)

    def expected_profile(self, user: str) -> dict[str, Any]:
        return {"display_name": "Ada Example", "email": "ada@example.test", "email_verified": True, "username": "ada"} if user == "ada" else {}

    def change_email(self, user: str, email: str) -> bool:
        self.github.change_email(self.logins[user], email)
        return True

    def rename(self, user: str, username: str) -> bool:
        self.github.rename(self.logins[user], username)
        self.logins[user] = username
        return True

    def unverify_email(self, user: str) -> bool:
        self.github.unverify_emails(self.logins[user])
        return True

    def issued_secrets(self) -> list[str]:
        with self.github.grants.lock:
            return list(self.github.grants.issued)

    def revocation_calls(self) -> int | None:
        return self.github.requests["revoke"]

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: Path) -> bool:
        self.github.serve_tls(context, str(browser_bundle))
        return True


class TestGitHubConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self) -> Iterator[GitHubAdapter]:
        with FakeGitHub() as github:
            yield GitHubAdapter(github)
