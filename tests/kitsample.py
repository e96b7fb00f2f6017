"""A small provider plugin written the way an outsider writes one from docs/plugins.md: its own
profile request, revocation and account states on hub.oidc.OAuth2Provider. The kit's mutation
test (tests/unit/test_kit_mutations.py) plants one realistic mistake at a time in this source
and expects the conformance kit to catch each; unmutated, it passes the kit in strict mode.

Its IdP is hub.testing.authserver.FakeAuthorizationServer with a GitLab-shaped profile
(tests/kitplugin.py's `gitlab_profile`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub import hookimpl
from hub.errors import AccessDenied, ProviderUnavailable, TokenRejected
from hub.oidc import OAuth2Provider, read_json, subject_from
from hub.oidc.settings import base_url_setting, check_known_keys, scopes_setting, text_setting
from hub.provider import CORE_SETTINGS, Identity, Profile, ProviderType, Tokens

hub_api_version = 1

log = logging.getLogger("hub_sample")

KNOWN_KEYS = frozenset({"base_url", "client_id", "client_secret", "scopes"}) | CORE_SETTINGS
ACTIVE_STATES = frozenset({"active"})
"""The only state that may sign in; every other (blocked, deactivated, banned, ...) is refused."""


@dataclass(frozen=True)
class SampleSettings:
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("read_user",)


class SampleProvider(OAuth2Provider):
    type_name: ClassVar[str] = "samplelab"
    label: ClassVar[str | None] = "SampleLab"
    config: SampleSettings

    def load_settings(self, settings: Mapping[str, Any]) -> SampleSettings:
        def key(name: str) -> str:
            return f"providers.{self.id}.{name}"

        log.debug("loading settings of %s", self.id)
        check_known_keys(settings, KNOWN_KEYS, self.id, self.type_name)
        return SampleSettings(
            base_url=base_url_setting(settings.get("base_url"), key("base_url")),
            client_id=text_setting(settings.get("client_id"), key("client_id"), "the application id"),
            client_secret=text_setting(settings.get("client_secret"), key("client_secret"), "the application secret"),
            scopes=scopes_setting(settings.get("scopes", ["read_user"]), key("scopes"), '["read_user"]'),
        )

    def authorization_endpoint(self) -> str:
        return f"{self.config.base_url}/authorize"

    def token_endpoint(self) -> str:
        return f"{self.config.base_url}/token"

    def profile_endpoint(self) -> str:
        return f"{self.config.base_url}/api/v4/user"

    def revocation_endpoint(self) -> str | None:
        return f"{self.config.base_url}/revoke"

    def fetch_profile(self, access_token: str) -> Any:
        log.info("fetching the profile from %s", self.profile_endpoint())
        response = self.context.http.get(
            self.profile_endpoint(), headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        )
        if response.status_code in (401, 403):
            raise TokenRejected(f"{self.provider_label} refused the access token (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise ProviderUnavailable(f"{self.provider_label}'s profile endpoint answered HTTP {response.status_code}.")
        return read_json(response, "profile endpoint")

    def revoke(self, tokens: Tokens) -> None:
        for token, hint in ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")):
            if not token:
                continue
            response = self.context.http.post(
                f"{self.config.base_url}/revoke",
                data={"token": token, "token_type_hint": hint},
                auth=(self.config.client_id, self.config.client_secret),
            )
            if response.status_code != 200:
                raise ProviderUnavailable(f"{self.provider_label} did not revoke the {hint} (HTTP {response.status_code}).")

    def identity_from_profile(self, profile: Any) -> Identity:
        subject = subject_from(profile.get("id"), self.provider_label)
        if profile.get("state") not in ACTIVE_STATES:
            raise AccessDenied(
                f"Your {self.provider_label} account is {str(profile.get('state'))[:20]}; ask its administrators.",
                code="account_blocked",
                subject=subject,
            )
        log.debug("signed in subject %s", subject)
        return Identity(subject=subject, issuer=self.config.base_url)

    def profile_from(self, profile: Any, access_token: str) -> Profile:
        return Profile(
            display_name=profile.get("name"),
            email=profile.get("email"),
            email_verified=profile.get("email_verified") is True,
            username=profile.get("username"),
        )


@hookimpl
def hub_provider_types() -> list[type[ProviderType]]:
    return [SampleProvider]
