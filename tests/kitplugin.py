"""A GitLab-like provider plugin written the right way on hub.oidc.OAuth2Provider, the reference
the conformance kit's tests break on purpose (tests/unit/test_conformance_kit.py).

Its IdP is hub.testing.authserver.FakeAuthorizationServer with a GitLab-shaped profile:
a numeric `id`, a changeable `username`, a `state` that is `blocked` for a blocked account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub import hookimpl
from hub.errors import AccessDenied
from hub.oidc import OAuth2Provider, subject_from
from hub.oidc.settings import base_url_setting, check_known_keys, scopes_setting, text_setting
from hub.provider import CORE_SETTINGS, Identity, Profile, ProviderType
from hub.testing.authserver import Person

hub_api_version = 1

KNOWN_KEYS = frozenset({"base_url", "client_id", "client_secret", "scopes"}) | CORE_SETTINGS


def gitlab_profile(person: Person) -> dict[str, Any]:
    """What GitLab's /api/v4/user answers (the fields a provider reads)."""
    return {"id": int(person.subject), "username": person.username, "name": person.name, "email": person.email,
            "email_verified": person.email_verified, "state": person.state}  # fmt: skip


@dataclass(frozen=True)
class KitSettings:
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("read_user",)


class KitProvider(OAuth2Provider):
    type_name: ClassVar[str] = "kitlab"
    label: ClassVar[str | None] = "KitLab"
    config: KitSettings

    def load_settings(self, settings: Mapping[str, Any]) -> KitSettings:
        def key(name: str) -> str:
            return f"providers.{self.id}.{name}"

        check_known_keys(settings, KNOWN_KEYS, self.id, self.type_name)
        return KitSettings(
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

    def identity_from_profile(self, profile: Any) -> Identity:
        subject = subject_from(profile.get("id"), self.provider_label)
        if profile.get("state") != "active":
            raise AccessDenied(
                f"Your {self.provider_label} account is {str(profile.get('state'))[:20]}; ask its administrators.",
                code="account_blocked",
                subject=subject,
            )
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
    return [KitProvider]
