"""What the conformance kit needs to know about a provider type and its IdP: the adapter a plugin
writes (`ConformanceAdapter`), the ready one for `FakeAuthorizationServer` (`FakeServerAdapter`),
and the kit's constants. See `hub.testing.conformance` for how a plugin uses them."""

from __future__ import annotations

import abc
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from hub.plugin.testing.app import BASE_URL
from hub.plugin.testing.authserver import FakeAuthorizationServer

PROVIDER_ID = "conformance"
REDIRECT_URI = f"{BASE_URL}/auth/{PROVIDER_ID}/callback"
READ_TIMEOUT = 0.5
"""The kit's providers give up after this long, so a `timeout` misbehaviour of about a
second proves the timeout without slowing the suite."""
MISBEHAVIOURS = ("wrong_nonce", "wrong_issuer", "wrong_audience", "server_error", "timeout")
"""What `ConformanceAdapter.misbehave` is asked for; each applies to the next token-endpoint
answer (the ID token in it, for the first three)."""
PROFILE_MISBEHAVIOURS = ("server_error", "timeout", "html", "invalid_json", "empty")
"""What `ConformanceAdapter.misbehave_at(endpoint, kind)` is asked for at `token`, `profile`
and `revoke`: a 5xx with an HTML body, an answer slower than `READ_TIMEOUT`, a 200 with an HTML
page, with broken JSON, with an empty body. Every one is `ProviderUnavailable` (docs/reference.md)."""
OUTAGE_ENDPOINTS = ("token", "profile", "revoke")
"""The endpoint names `misbehave_at` is asked about."""
DEFAULT_ACCOUNT_STATES = ("blocked", "deactivated", "banned", "locked", "pending_approval")
"""The states `FakeServerAdapter` tries: what GitLab-like IdPs use to block or limit a user."""


class ConformanceAdapter(abc.ABC):
    """What the kit needs to know about one provider type and its (fake) IdP."""

    plugin: ModuleType
    """The plugin module (the entry point's target) with `hub_provider_types`."""
    plugin_name: str
    users: tuple[str, str]
    """Two different people the IdP can sign in (names as `approve` understands them)."""
    has_id_token: bool = True
    """OpenID Connect: nonce, issuer and audience are checked. False for plain OAuth (GitHub)."""
    issues_new_refresh_token: bool = True
    """The IdP answers a refresh with a new refresh token (rotation)."""
    single_use_refresh_tokens: bool = False
    """A spent refresh token is refused afterwards (GitHub)."""

    @abc.abstractmethod
    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        """The provider's configuration table (with `type`), registering `redirect_uri` at
        the IdP where it needs that."""

    @abc.abstractmethod
    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        """Act as `user` in the browser at the IdP: return the callback's query parameters."""

    @abc.abstractmethod
    def token_calls(self) -> int:
        """How many requests the IdP's token endpoint has received so far."""

    def misbehave(self, kind: str) -> bool:
        """Make the IdP's next answer misbehave (`MISBEHAVIOURS`); False when unsupported."""
        return False

    def bad_client_settings(self) -> dict[str, Any]:
        """Setting overrides that make the IdP refuse the hub's client credentials."""
        return {"client_secret": "conformance-wrong-secret"}

    def expected_profile(self, user: str) -> Mapping[str, Any]:
        """Profile fields (`display_name`, `email`, ...) the provider must report for `user`."""
        return {}

    def change_email(self, user: str, email: str) -> bool:
        """Change the person's email at the IdP; False when the IdP cannot."""
        return False

    # --- optional: each enables checks of the 2026 review (issue 10) ----------------------

    fetches_profile: bool = True
    """The provider calls a profile endpoint (userinfo, /user) at sign-in."""
    secret_settings: tuple[str, ...] = ("client_secret",)
    """Settings whose values are secrets: no settings error may show them."""

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        """Make the IdP's next answer at `endpoint` (`profile`) misbehave as `kind`
        (`PROFILE_MISBEHAVIOURS`); False when unsupported."""
        return False

    def rename(self, user: str, username: str) -> bool:
        """Change the person's login name (username, handle) at the IdP; False when it cannot."""
        return False

    def unverify_email(self, user: str) -> bool:
        """Make the IdP report the person's email as not verified; False when it cannot."""
        return False

    account_states: tuple[str, ...] | None = None
    """Every state the provider uses to block or limit a user (deactivated, banned, locked,
    pending, ...), each of which it must refuse; the kit puts the person in each in turn with
    `refuse_account(user, state)`. `()`: the IdP has no such state. None: not declared (the kit
    then tries the one state `refuse_account(user)` picks, and reports the list as not checked).
    docs/plugins.md says how to find them for a provider."""

    def refuse_account(self, user: str, state: str | None = None) -> bool:
        """Put the person's account in `state` (one of `account_states`; None: any state the
        provider must refuse), as the IdP reports it; False when the IdP cannot."""
        return False

    endpoint_names: Mapping[str, str] = {}
    """For an IdP faked with `FakeAuthorizationServer` (held in any attribute): the fake's name
    for each kit endpoint (`token`, `profile`, `revoke`) where they differ. The kit then makes
    the fake misbehave, counts revocations, lists issued tokens and serves HTTPS by itself."""

    does_not_apply: Mapping[str, str] = {}
    """Adapter members that have no counterpart at this IdP, each with why (`{"rename": "logins
    cannot change"}`): the summary prints them as not applicable, strict mode does not fail."""

    def issued_secrets(self) -> list[str]:
        """Every code and token the IdP has issued so far (access, refresh, ID tokens), so the kit
        finds them in logs and errors even when the provider never hands them back; [] when the
        adapter cannot tell (the kit still watches those it sees)."""
        return []

    def revocation_calls(self) -> int | None:
        """How many requests the IdP's revocation endpoint has received; None when unknown."""
        return None

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: Path) -> bool:
        """Make the IdP answer HTTPS with `context`'s certificate from now on, at new URLs that
        `provider_table` then names (so no earlier connection is reused); `approve` must trust
        `browser_bundle`. False when the IdP cannot (the TLS check is then not checked)."""
        return False

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        """Make the IdP answer this authorization request with `error=access_denied`; the
        callback's query, or None when the adapter cannot (the kit then builds one)."""
        return None


class FakeServerAdapter(ConformanceAdapter):
    """An adapter for a plugin tested against `FakeAuthorizationServer`: every optional check
    is enabled. Set `plugin` and `plugin_name` and write `provider_table`:

        class GitLabAdapter(FakeServerAdapter):
            plugin, plugin_name = hub_gitlab, "gitlab"

            def provider_table(self, redirect_uri):
                return {"type": "gitlab", "base_url": self.server.url,
                        "client_id": self.server.client_id, "client_secret": self.server.client_secret}
    """

    users = ("alice", "bob")

    def __init__(self, server: FakeAuthorizationServer) -> None:
        self.server = server
        self.has_id_token = server.openid
        self.issues_new_refresh_token = server.rotate_refresh_tokens
        self.single_use_refresh_tokens = server.rotate_refresh_tokens

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        return self.server.approve(authorization_url, user)

    def token_calls(self) -> int:
        return self.server.token_calls

    def misbehave(self, kind: str) -> bool:
        if kind not in MISBEHAVIOURS:
            return False
        self.server.misbehave("token", kind)
        return True

    account_states = DEFAULT_ACCOUNT_STATES

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        self.server.misbehave(endpoint, kind)
        return True

    def issued_secrets(self) -> list[str]:
        with self.server.grants.lock:
            return list(self.server.grants.issued)

    def revocation_calls(self) -> int | None:
        return self.server.requests["revoke"]

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: Path) -> bool:
        self.server.serve_tls(context, browser_bundle)
        return True

    def expected_profile(self, user: str) -> Mapping[str, Any]:
        person = self.server.person(user)
        return {"display_name": person.name, "email": person.email}

    def change_email(self, user: str, email: str) -> bool:
        self.server.change_email(user, email)
        return True

    def rename(self, user: str, username: str) -> bool:
        self.server.rename(user, username)
        return True

    def unverify_email(self, user: str) -> bool:
        self.server.change_email(user, self.server.person(user).email, verified=False)
        return True

    def refuse_account(self, user: str, state: str | None = None) -> bool:
        self.server.block(user, state or "blocked")
        return True

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        self.server.deny_next()
        return self.server.approve(authorization_url, user)


__all__ = [
    "DEFAULT_ACCOUNT_STATES",
    "MISBEHAVIOURS",
    "OUTAGE_ENDPOINTS",
    "PROFILE_MISBEHAVIOURS",
    "PROVIDER_ID",
    "READ_TIMEOUT",
    "REDIRECT_URI",
    "ConformanceAdapter",
    "FakeServerAdapter",
]
