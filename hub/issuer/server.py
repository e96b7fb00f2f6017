"""Authlib's authorization server with the hub's storage, assembled from the issuer's modules.

The shape is Authlib's example OIDC server, without its shortcuts: client secrets, codes and
refresh tokens are stored as hashes; PKCE is S256 only and required for public applications;
access tokens are RFC 9068 JWTs signed with the hub's keys (hub.issuer.access_tokens); refresh
tokens are opaque, rotated on every use, with reuse detection (hub.issuer.tokens).

The server is Authlib's framework-agnostic one: a web framework adds how its request becomes
Authlib's OAuth2Request and how an answer becomes its response (hub.web.issuer_server for
Flask), as Authlib's own framework integrations do. Each protocol request runs in one database
transaction that the web layer opens (hub.issuer.context). An error answer commits too, because
what it wrote is deliberate: a revoked family after a replayed code or reused refresh token, and
the failure's audit event.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc9207 import IssuerParameter

from hub.issuer import applications, tokens
from hub.issuer.access_tokens import HubAccessTokens
from hub.issuer.client_auth import PRIVATE_KEY_JWT, PrivateKeyJWT
from hub.issuer.client_cache import ApplicationCache
from hub.issuer.config import IssuerConfig
from hub.issuer.context import current, db, note
from hub.issuer.endpoints import HubEndSession, HubIntrospection, HubRevocation
from hub.issuer.errors import note_failure, standard_error
from hub.issuer.grants import (
    PKCE,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    HubOpenIDCode,
    HubRefreshIdToken,
    RefreshTokenGrant,
)
from hub.issuer.models import OAuthClient, OAuthRefreshToken, Subject
from hub.issuer.resource import HubResourceProtector, HubTokenValidator, HubUserInfo

# Authlib logs issued token dicts at DEBUG ("Issue token %r to %r"): never let them reach a log.
logging.getLogger("authlib").setLevel(logging.INFO)


class HubAuthorizationServer(AuthorizationServer):
    """Authlib's authorization server over the hub's storage. A framework adapter subclasses it
    with `create_oauth2_request`, `create_json_request` and `handle_response`."""

    def __init__(self, config: IssuerConfig) -> None:
        super().__init__()
        self.config = config
        self.issuer = config.issuer
        self.clients = ApplicationCache()
        self.rotation = tokens.Rotation(config.secret_key, config.refresh_reuse_grace)
        self.issuer_parameter = HubIssuerParameter(config.issuer)

    def query_client(self, client_id: str | None) -> OAuthClient | None:
        row = self.clients.find_enabled(db(), client_id)
        return OAuthClient(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        client: OAuthClient = request.client
        subject: Subject | None = request.user
        self.clients.touch(db(), client.row)
        family = subject.family if subject is not None else None
        grant_type = request.payload.grant_type
        if family is not None and token.get("refresh_token") and grant_type == "authorization_code":
            tokens.add_refresh_token(db(), family, token["refresh_token"])  # a refresh stored its own
        repeated = isinstance(request.refresh_token, OAuthRefreshToken) and request.refresh_token.repeated
        note(
            "issuer.refresh" if grant_type == "refresh_token" else "issuer.token",
            actor_user_id=subject.user.id if subject else None,
            subject_user_id=subject.user.id if subject else None,
            provider_id=subject.provider_id if subject else None,
            details={
                "client_id": client.client_id,
                "application": client.row.name,
                "grant_type": grant_type,
                "scope": token.get("scope", ""),
                "refresh_issued": bool(token.get("refresh_token")),
                **({"repeated_within_grace": True} if repeated else {}),
            },
        )

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        error = standard_error(error, self.issuer)
        note_failure(error)
        return super().handle_error_response(request, error)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signals: the authenticated client names the exchange's refusals (never
        the client id a request merely claims)."""
        if name == "after_authenticate_client" and kwargs.get("client") is not None:
            current().client_id = kwargs["client"].client_id


class HubIssuerParameter(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, errors included."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def assemble(server: HubAuthorizationServer) -> HubAuthorizationServer:
    """Register the hub's token format, client authentication, grants and endpoints on `server`
    (a framework adapter's instance); returns it."""
    config = server.config
    issuer = config.issuer
    server.register_token_generator("default", HubAccessTokens(config))
    server.scopes_supported = list(applications.SCOPES)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWT(config, [f"{issuer}/oauth2/token", issuer]))
    server.register_grant(AuthorizationCodeGrant, [PKCE(required=True), HubOpenIDCode(config, server.query_client)])
    server.register_grant(RefreshTokenGrant, [HubRefreshIdToken(config)])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(HubRevocation(server))
    server.register_endpoint(HubIntrospection(server))
    server.register_endpoint(HubEndSession(server))
    protector = HubResourceProtector(issuer)
    protector.register_token_validator(HubTokenValidator(config))
    server.register_endpoint(HubUserInfo(config, protector))
    server.register_extension(server.issuer_parameter)
    return server


__all__ = ["HubAuthorizationServer", "HubIssuerParameter", "assemble"]
