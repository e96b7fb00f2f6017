"""The `entra` provider type: Microsoft Entra ID sign-in over OpenID Connect, profile from Graph.

The shared relying-party rules (signature, iss, aud, exp, nonce) come from hub.oidc; this
module adds Entra's own: the `{tenantid}` issuer template for common/organizations, `tid`
and the signing key's `issuer`, the tenant allow-list, `tid` + `oid` as the subject, app
roles mapped to hub roles, and AADSTS codes turned into messages a person can act on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from hub.errors import AccessDenied, ConfigError, HubError, ProviderDenied, TokenRejected
from hub.oidc import (
    ClientAuth,
    OAuthErrorBody,
    OpenIdConnectProvider,
    PrivateKeyJwt,
    TokenResponse,
    ValidatedIdToken,
    is_guid,
    secret_client_auth,
)
from hub.provider import (
    AuthorizationRequest,
    Identity,
    LogoutRequest,
    Profile,
    ProviderContext,
    Tokens,
    authentication_claims,
)
from hub_entra.graph import GraphClient, profile_from_me
from hub_entra.settings import CONSUMERS_TENANT_ID, EntraSettings, parse_settings

TENANT_TEMPLATE = "{tenantid}"
_AADSTS = re.compile(r"AADSTS\d+")

AUTHORIZATION_ERRORS: Mapping[str, str] = {
    "access_denied": "You declined to sign in, or declined to let the hub read your basic "
    "profile. Start again and accept if you want to sign in.",
    "consent_required": "Your organisation has not approved this hub yet: an administrator "
    "must grant admin consent to the app in Microsoft Entra ID.",
    "interaction_required": "Microsoft needs more before it can sign you in, such as admin "
    "consent for your organisation or an extra verification step. Start again; if it repeats, "
    "ask your administrator.",
    "login_required": "You are not signed in at Microsoft. Start again and sign in.",
    "temporarily_unavailable": "Microsoft's sign-in service is busy. Wait a minute and try again.",
    "server_error": "Microsoft's sign-in service had an error. Wait a minute and try again.",
    "unauthorized_client": "This hub's app registration is not allowed to sign people in "
    "this way; an administrator must check it in Microsoft Entra ID.",
    "invalid_request": "Microsoft refused the hub's sign-in request; an administrator must "
    "check the provider's settings and app registration.",
}
"""What each `error=` on the callback means for the person reading it."""

AADSTS_HINTS: Mapping[str, str] = {
    "AADSTS50105": "Your account is not assigned to this application. Ask an administrator "
    "to assign you (Enterprise applications, Users and groups).",
    "AADSTS65004": "You declined to give the hub access. Start again and accept to sign in.",
    "AADSTS65001": "Your organisation has not approved this hub yet: an administrator must "
    "grant admin consent to the app.",
    "AADSTS90094": "Your organisation has not approved this hub yet: an administrator must "
    "grant admin consent to the app.",
    "AADSTS50020": "Your account's organisation is not allowed to use this app. Sign in with "
    "an account from the organisation the hub serves.",
    "AADSTS53003": "Your organisation's Conditional Access policy blocked this sign-in. Ask "
    "your administrator.",
}
"""AADSTS codes common enough to deserve their own sentence."""


class EntraProvider(OpenIdConnectProvider):
    """One configured Entra ID connection (a tenant, or a multi-tenant app with an
    allow-list). Discovery and keys are fetched lazily and cached; `__init__` does no I/O."""

    type_name: ClassVar[str] = "entra"
    label: ClassVar[str | None] = "Microsoft Entra ID"
    authorization_errors: ClassVar[Mapping[str, str]] = AUTHORIZATION_ERRORS
    config: EntraSettings

    def __init__(self, provider_id: str, name: str, settings: Mapping[str, Any], context: ProviderContext, **kwargs: Any) -> None:
        super().__init__(provider_id, name, settings, context, **kwargs)
        self.graph = GraphClient(context.http, self.config.graph_base_url)

    def load_settings(self, settings: Mapping[str, Any]) -> EntraSettings:
        return parse_settings(self.id, settings)

    def __repr__(self) -> str:
        return f"EntraProvider(id={self.id!r}, tenant={self.config.tenant!r})"

    @property
    def token_request_scopes(self) -> tuple[str, ...]:
        """The v2.0 endpoints want the scopes again with the code and refresh requests."""
        return self.config.scopes

    def authorization_params(self, request: AuthorizationRequest) -> Mapping[str, str]:
        return {"response_mode": "query"}

    def profile(self, identity: Identity, claims: Mapping[str, Any], access_token: str) -> Profile:
        """The Graph /me profile, only after the ID token passed every check; it must be the
        person the ID token names (`id` equals `oid`). Its address is verified only when the
        ID token says so (`domain_verified_email`)."""
        me = self.graph.me(access_token)
        if str(me.get("id", "")).lower() != str(claims["oid"]).lower():
            raise TokenRejected(
                "Microsoft Graph returned a different person than the ID token names (the "
                "profile id does not equal oid).",
                code="subject_mismatch",
            )
        profile = profile_from_me(me, identity.tenant or "")
        verified = domain_verified_email(claims)
        if verified is None:
            return profile
        return dataclasses.replace(profile, email=verified, email_verified=True)

    def tokens_from(self, response: TokenResponse) -> Tokens:
        """Tokens with the granted scopes in the form they were requested, so the console can
        compare them: Entra answers Graph scopes as `https://graph.microsoft.com/User.Read` and
        never echoes `offline_access` (a refresh token is the proof it was granted)."""
        tokens = response.to_tokens(self.clock())
        return dataclasses.replace(tokens, scopes=granted_scopes(tokens.scopes, tokens.refresh_token is not None))

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        query = urlencode({"post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{self.config.authority}/oauth2/v2.0/logout?{query}"

    def backchannel_logout(self, logout_token: str) -> LogoutRequest | None:
        """Entra sends no back-channel logout tokens (only front-channel logout): 404."""
        return None

    # --- issuers ---------------------------------------------------------------------------

    @property
    def frontchannel_origins(self) -> tuple[str, ...]:
        parts = urlsplit(self.config.authority_host)
        return (f"{parts.scheme}://{parts.netloc}",)

    def serves_issuer(self, issuer: str) -> bool:
        """A v2.0 issuer of a tenant this provider serves (front-channel logout `iss`, RFC
        9207 `iss`): Entra's front-channel logout GET carries only `?sid=` (PROTOCOL-REFERENCE
        A7), but a cloud that sends `iss` must name a tenant of ours."""
        tenant = _tenant_of_issuer(issuer, self.config.authority_host)
        if tenant is None:
            return False
        if is_guid(self.config.tenant):
            return tenant == self.config.tenant.lower()
        if self.config.tenant == "consumers":
            return tenant == CONSUMERS_TENANT_ID
        discovered = self.discovery.cached()  # a domain-named tenant: its GUID, once known
        if not self.config.is_multi_tenant and discovered is not None:
            return tenant == _tenant_of_issuer(discovered.issuer, self.config.authority_host)
        allowed = self.config.allowed_tenants
        return allowed is None or not allowed or tenant in allowed

    @property
    def issuer(self) -> str:
        """What the issuer looks like (a template for common/organizations); every rule that
        compares issuers is overridden above and below."""
        return self.expected_discovery_issuer_text

    # --- errors ---------------------------------------------------------------------------

    def provider_code(self, error: OAuthErrorBody) -> str | None:
        code = aadsts_code(error.description)
        if code is None and error.codes:
            code = f"AADSTS{error.codes[0]}"
        return code

    def describe_authorization_error(self, error: str, description: str) -> HubError:
        """The error for an `error=` callback: a sentence per error (and for common AADSTS
        codes) instead of Microsoft's raw text, with the AADSTS code kept for support."""
        provider_code = aadsts_code(description)
        message = AADSTS_HINTS.get(provider_code or "") or AUTHORIZATION_ERRORS.get(
            error, f"Microsoft did not sign you in ({error[:60]})."
        )
        return ProviderDenied(message, provider_code=provider_code or error[:60])

    # --- Entra rules ----------------------------------------------------------------------

    def accept_discovery_issuer(self, issuer: str) -> bool:
        host = self.config.authority_host
        tenant = self.config.tenant
        if self.config.is_multi_tenant:
            return issuer == f"{host}/{TENANT_TEMPLATE}/v2.0"
        if tenant == "consumers":
            return issuer == f"{host}/{CONSUMERS_TENANT_ID}/v2.0"
        if is_guid(tenant):
            return issuer.lower() == f"{host}/{tenant}/v2.0".lower()
        return _tenant_of_issuer(issuer, host) is not None

    @property
    def discovery_url(self) -> str:
        return f"{self.config.authority}/v2.0/.well-known/openid-configuration"

    @property
    def expected_discovery_issuer_text(self) -> str:
        host = self.config.authority_host
        tenant = self.config.tenant
        if self.config.is_multi_tenant:
            return f"{host}/{TENANT_TEMPLATE}/v2.0"
        if tenant == "consumers":
            return f"{host}/{CONSUMERS_TENANT_ID}/v2.0"
        if is_guid(tenant):
            return f"{host}/{tenant}/v2.0"
        return f"{host}/<tenant GUID>/v2.0"

    def expected_token_issuer(self, claims: Mapping[str, Any]) -> str:
        """The issuer this token must carry: the discovery issuer, with `{tenantid}` filled
        from `tid` for common/organizations. v1 tokens and non-GUID tids are refused here."""
        issuer = claims.get("iss")
        if isinstance(issuer, str) and "sts.windows.net" in issuer:
            raise TokenRejected(
                "The ID token is a v1.0 token (issuer sts.windows.net); the hub accepts only "
                "v2.0 tokens from the /v2.0 endpoints.",
                code="issuer_mismatch",
            )
        tid = claims.get("tid")
        if not is_guid(tid):
            raise TokenRejected("The ID token's tenant id (tid) is not a GUID.", code="bad_tenant")
        discovered = self.discovery.get().issuer
        if TENANT_TEMPLATE in discovered:
            return discovered.replace(TENANT_TEMPLATE, tid)
        if _tenant_of_issuer(discovered, self.config.authority_host) != tid.lower():
            raise TokenRejected(
                "The ID token's tenant (tid) is not the configured tenant.", code="bad_tenant"
            )
        return discovered

    def identity(self, validated: ValidatedIdToken, claims: Mapping[str, Any]) -> Identity:
        """`tid:oid` as the subject (an `oid` alone is unique only within its tenant)."""
        claims = validated.claims
        _check_signing_key_issuer(validated)
        if claims.get("ver", "2.0") != "2.0":
            raise TokenRejected("The ID token is not a v2.0 token.", code="issuer_mismatch")
        tid = str(claims["tid"]).lower()
        oid = claims.get("oid")
        if not is_guid(oid):
            raise TokenRejected(
                "The ID token has no object id (oid); the profile scope must be requested.",
                code="missing_claim",
            )
        self._check_tenant_allowed(tid)
        sid = claims.get("sid")
        return Identity(
            subject=f"{tid}:{oid.lower()}",
            issuer=claims["iss"],
            tenant=tid,
            roles=self.roles_from(claims),
            session_id=sid if isinstance(sid, str) else None,
            **authentication_claims(claims),
        )

    def subject_for_directory_id(self, directory_id: str) -> str:
        """`tid:oid` for the object id Entra's provisioning sends as `externalId` (the SCIM
        attribute mapping in docs/provisioning.md); the tenant is this provider's, so only a
        provider configured with its tenant's GUID can provision."""
        if not is_guid(self.config.tenant):
            raise ConfigError(
                f"providers.{self.id}.tenant: SCIM provisioning needs the directory (tenant) ID GUID, "
                f"not {self.config.tenant!r}, to form the subject Entra's sign-in produces (tid:oid)"
            )
        if not is_guid(directory_id):
            raise ValueError("An Entra object id is a GUID; map objectId to externalId.")
        return f"{self.config.tenant.lower()}:{directory_id.lower()}"

    def _check_tenant_allowed(self, tid: str) -> None:
        allowed = self.config.allowed_tenants
        if allowed is None or not allowed or tid in allowed:
            return
        raise AccessDenied(
            f"Accounts from the organisation with tenant id {tid} may not sign in to this hub.",
            code="tenant_denied",
            hint="Sign in with an account from an allowed organisation, or ask an administrator "
            "to add your tenant to the allow-list.",
        )

    def roles_from(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """Hub roles from the `roles` claim (app roles) only. Groups, and groups overage
        (`_claim_names`), never grant anything: group ids differ per tenant."""
        roles = claims.get("roles")
        if not isinstance(roles, list):
            return frozenset()
        role_map = self.config.role_map
        return frozenset(role_map[role] for role in roles if isinstance(role, str) and role in role_map)

    def client_auth(self) -> ClientAuth:
        config = self.config
        if config.uses_certificate:
            assert config.certificate_key_pem is not None and config.certificate_pem is not None
            try:
                return PrivateKeyJwt.from_pem(
                    config.client_id,
                    config.certificate_key_pem,
                    config.certificate_pem,
                    password=config.certificate_password,
                    clock=self.clock,
                )
            except ValueError as exc:
                raise ConfigError(f"providers.{self.id}.certificate_key: {exc}.") from None
        assert config.client_secret is not None
        return secret_client_auth(config.client_id, config.client_secret, config.client_auth_method)


def domain_verified_email(claims: Mapping[str, Any]) -> str | None:
    """The ID token's `email` when Entra vouches for it, else None.

    Entra sends no `email_verified`. Its word is the optional claim `xms_edov` (email domain
    owner verified): true when the address's domain is a verified domain of the tenant where
    the account lives. It counts only
    - as JSON `true`: Microsoft documents a boolean; the string "true" (or "1") is not Entra's
      claim but something a claims-mapping policy made, and a wrong "verified" lets an
      application admit the wrong person by address, where a wrong "unverified" only asks it
      to check again;
    - with the token's own tenant: an `idp` other than the token's issuer means the account
      lives elsewhere (a guest), so the tenant that signed the token does not own its domain;
    - with the ID token's own `email` (the address it speaks of), which then is the profile's.
    """
    email = claims.get("email")
    if claims.get("xms_edov") is not True or not isinstance(email, str) or "@" not in email:
        return None
    idp = claims.get("idp")
    if idp is not None and idp != claims.get("iss"):
        return None
    return email


def aadsts_code(description: str | None) -> str | None:
    """The `AADSTSnnnn` code at the start of an Entra error description, if any."""
    match = _AADSTS.search(description or "")
    return match.group(0) if match else None


def _tenant_of_issuer(issuer: str, host: str) -> str | None:
    """The tenant GUID in a v2.0 issuer `{host}/{guid}/v2.0`, or None."""
    prefix = f"{host}/"
    if not issuer.startswith(prefix) or not issuer.endswith("/v2.0"):
        return None
    tenant = issuer[len(prefix) : -len("/v2.0")]
    return tenant.lower() if is_guid(tenant) else None


def _check_signing_key_issuer(validated: ValidatedIdToken) -> None:
    """Entra tags each published key with the issuer it may sign for (a `{tenantid}` template
    or a concrete tenant); a key of another tenant must not vouch for this token."""
    key_issuer = validated.signing_key.params.get("issuer")
    if not isinstance(key_issuer, str):
        return
    claims = validated.claims
    expected = key_issuer.replace(TENANT_TEMPLATE, str(claims.get("tid")))
    # Compare the tenant path only: Microsoft's common key set tags US Government keys with
    # a .com issuer template, so the host part is not a reliable signal across clouds.
    if urlsplit(expected).path != urlsplit(str(claims.get("iss"))).path:
        raise TokenRejected(
            "The ID token is signed with a key that Entra publishes for another issuer.",
            code="bad_signature",
        )


GRAPH_RESOURCE = "https://graph.microsoft.com/"


def granted_scopes(scopes: tuple[str, ...], refresh_token_issued: bool) -> tuple[str, ...]:
    """Entra's granted-scope list in the short form the hub requests (see EntraProvider._tokens)."""
    short = [scope.removeprefix(GRAPH_RESOURCE) for scope in scopes]
    if refresh_token_issued and "offline_access" not in short:
        short.append("offline_access")
    return tuple(dict.fromkeys(short))
