"""The provider-type contract: the class a plugin implements and the values it hands the core.

A provider type speaks one protocol dialect (Entra ID, generic OpenID Connect, GitHub). A
*provider* is one configured instance of a type, with its own id and settings, so two Entra
tenants are two instances of one class. The core owns state, PKCE, nonce, storage, sessions,
linking and audit; a provider type only talks to its identity provider and never touches the
database, Flask's request or the session.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests

from hub.core.identity import Identity, Profile, RefreshResult, SignInResult, Tokens

__all__ = [
    "CORE_SETTINGS",
    "ProviderContext",
    "AuthorizationRequest",
    "Callback",
    "Identity",
    "Profile",
    "Tokens",
    "SignInResult",
    "RefreshResult",
    "LogoutRequest",
    "AuthorizationResponseIssuer",
    "HealthCheck",
    "ProviderType",
    "authentication_claims",
]
"""The v1 plugin names (`hub.provider`); the identity values are defined in hub.core.identity
and re-exported here as the same class objects."""

CORE_SETTINGS = frozenset({"id", "type", "name", "button_label", "redirect_uri", "scim_group_roles"})
"""Keys of a provider's configuration that the core owns; a provider type accepts them beside
its own (and never needs to validate them)."""


@dataclass(frozen=True)
class ProviderContext:
    """What the core gives every provider instance when it builds it."""

    redirect_uri: str
    """The exact callback URI registered at the provider, from configuration (never from the
    request's Host header)."""
    http: requests.Session
    """A session with the hub's timeouts and bounded retries (see hub.upstream.http); use it for every
    outbound call so tests can mock at the HTTP layer."""
    production: bool = False


@dataclass(frozen=True)
class AuthorizationRequest:
    """Everything the core generated for one authorization-code redirect."""

    state: str
    nonce: str
    code_challenge: str
    """PKCE S256 challenge; the method is always S256."""
    prompt: str | None = None
    """`select_account` when linking, so the person can pick another account."""
    login_hint: str | None = None
    """A hint an application passed to the hub's authorize endpoint (OpenID Connect
    `login_hint`, often an address), for the provider's sign-in form. Display help only:
    never identity."""


@dataclass(frozen=True)
class Callback:
    """The provider's redirect, already matched to its pending sign-in by the core."""

    params: Mapping[str, str] = field(repr=False)
    """The callback's query parameters (`code`, `state`, `iss`, ...)."""
    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)


@dataclass(frozen=True)
class LogoutRequest:
    """A validated provider-initiated sign-out: end the hub sessions of this provider session
    (`sid`), or of this person (`subject`) when no sid is given."""

    sid: str | None = None
    subject: str | None = None
    jti: str | None = None
    """The logout token's `jti`: the hub refuses a second token with the same one (in every
    worker, hub.upstream.replay) until `expires_at`."""
    expires_at: datetime | None = None
    """The token's `exp`, as an aware UTC datetime: how long its jti must be remembered."""


@dataclass(frozen=True)
class AuthorizationResponseIssuer:
    """What the core needs to check the `iss` of a provider's authorization responses
    (RFC 9207) before any code is redeemed."""

    issuer: str
    """The issuer identifier from the provider's metadata (shown in messages)."""
    required: bool = False
    """The metadata says `authorization_response_iss_parameter_supported: true`: a response
    without `iss` is refused."""
    matches: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)
    """For an issuer that is a template (Entra's `{tenantid}`): whether a sent `iss` is one of
    this provider's. Without it, `iss` must equal `issuer` exactly."""

    def accepts(self, iss: str) -> bool:
        return self.matches(iss) if self.matches is not None else iss == self.issuer


@dataclass(frozen=True)
class HealthCheck:
    """One reachability check shown on the admin providers page."""

    name: str
    ok: bool
    detail: str = ""


class ProviderType(abc.ABC):
    """Base class of every provider type. Subclass it in a plugin and return the class from
    the `hub_provider_types` hook.

    Raise hub.core.errors exceptions (SignInError subclasses, ProviderUnavailable,
    ProviderMisconfigured, RefreshRejected) with messages a person can act on; the core turns
    them into pages, JSON and audit events.
    """

    type_name: ClassVar[str]
    """The value of `type` in a provider's configuration, for example `entra`."""
    default_button_label: ClassVar[str] = "Sign in with {name}"

    def __init__(
        self, provider_id: str, name: str, settings: Mapping[str, Any], context: ProviderContext
    ) -> None:
        """Validate `settings` here and raise hub.core.errors.ConfigError naming
        `providers.<id>.<key>` and what is expected. Do no network I/O."""
        self.id = provider_id
        self.name = name
        self.settings = settings
        self.context = context

    @property
    def button_label(self) -> str:
        return str(self.settings.get("button_label") or self.default_button_label).format(
            name=self.name
        )

    @property
    def redirect_uri(self) -> str:
        return self.context.redirect_uri

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        """Scopes asked for at sign-in; the admin console compares them with those granted."""
        return ()

    @abc.abstractmethod
    def authorization_url(self, request: AuthorizationRequest) -> str:
        """The URL to send the browser to. Must carry state, nonce (where the protocol has
        one), the S256 code challenge and `self.redirect_uri`."""

    @abc.abstractmethod
    def complete_sign_in(self, callback: Callback) -> SignInResult:
        """Exchange the code (with `callback.code_verifier`), validate the identity (nonce
        equal to `callback.nonce`) and fetch the profile. Raise on any failure."""

    @abc.abstractmethod
    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        """Redeem a refresh token. Raise RefreshRejected on `invalid_grant`."""

    def subject_for_directory_id(self, directory_id: str) -> str:
        """The subject this provider's sign-in produces for the person whose immutable directory
        id is `directory_id` (what its SCIM client sends as `externalId`), so a provisioned user
        is the one the person lands on at first sign-in. By default the directory id is the
        subject; a type whose subject is built differently overrides this (Entra: `tid:oid`).
        Raise hub.core.errors.ConfigError when this provider cannot know it."""
        return directory_id

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to sign out at the provider, or None."""
        return None

    def revoke(self, tokens: Tokens) -> None:  # noqa: B027 - optional, no-op by default
        """Revoke tokens at the provider, where it supports revocation."""

    def check_account(self, tokens: Tokens, previous: Identity) -> Identity | None:
        """Optional: ask the provider whether the account still stands, with the tokens the hub
        holds, for a provider without refresh tokens (GitHub: the user endpoint). Return the
        identity as the provider sees it now (its roles reach applications at their next
        refresh); raise RefreshRejected when the provider refuses the account for good, another
        HubError when it cannot answer now. None (the default): this provider cannot check
        accounts, and the console says so (hub.upstream.checks)."""
        return None

    def health(self) -> list[HealthCheck]:
        """Live reachability checks (discovery, keys) for the admin console."""
        return []

    def authorization_response_issuer(self) -> AuthorizationResponseIssuer | None:
        """The issuer the provider's authorization responses may name in `iss` (RFC 9207),
        or None when the provider has no issuer identifier. The core checks every callback
        against it before `complete_sign_in` runs. May fetch the provider's metadata."""
        return None

    # --- provider-initiated sign-out (optional) --------------------------------------------

    def backchannel_logout(self, logout_token: str) -> LogoutRequest | None:
        """Validate a back-channel logout token (OpenID Connect Back-Channel Logout 1.0) that
        the provider POSTed to /auth/<id>/backchannel-logout.

        Return None when this provider type does not support back-channel logout (the hub
        answers 404). Raise a hub.core.errors exception (TokenRejected) on any invalid token: the
        hub then answers 400 and ends no session.
        """
        return None

    def frontchannel_logout(self, params: Mapping[str, str]) -> str | None:
        """The provider session id (`sid`) named by a front-channel logout GET to
        /auth/<id>/frontchannel-logout, after checking `iss` where the provider sends it.

        Return None when this provider type does not support front-channel logout (404);
        raise a hub.core.errors exception when the request is unusable (400).
        """
        return None

    @property
    def frontchannel_origins(self) -> tuple[str, ...]:
        """Origins allowed to frame the front-channel logout page (CSP frame-ancestors, on
        that route only); the provider's own origin, for example `https://login.microsoftonline.com`."""
        return ()


def authentication_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """`amr` and `acr` from a validated ID token's claims, for `Identity(..., **...)`: kept only
    when well-formed (a list of short strings, a short string), otherwise left out."""
    found: dict[str, Any] = {}
    amr = claims.get("amr")
    if isinstance(amr, list) and all(isinstance(item, str) and 0 < len(item) <= 64 for item in amr):
        found["amr"] = tuple(amr[:16])
    acr = claims.get("acr")
    if isinstance(acr, str) and 0 < len(acr) <= 256:
        found["acr"] = acr
    return found
