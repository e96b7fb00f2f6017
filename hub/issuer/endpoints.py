"""The issuer's endpoints beside authorize and token: revocation (RFC 7009), introspection
(RFC 7662) and RP-initiated logout (end-session, with an `id_token_hint` the hub issued)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jws
from joserfc.errors import JoseError

from hub.core.models import Application, RefreshToken, TokenFamily, User
from hub.issuer import claims, tokens
from hub.issuer.access_tokens import validate_access_token
from hub.issuer.client_auth import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from hub.issuer.config import IssuerConfig
from hub.issuer.context import db, note
from hub.issuer.models import IssuedAccessToken, OAuthClient, OAuthRefreshToken

if TYPE_CHECKING:
    from hub.issuer.server import HubAuthorizationServer


class _TokenLookup:
    """Shared by revocation and introspection: a refresh token or an access token, by value."""

    config: IssuerConfig

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenMixin | None:
        if token_type_hint != "access_token":  # noqa: S105 - a hint name, not a secret
            row = db().get(RefreshToken, tokens.token_hash(token_string)) if len(token_string) <= 256 else None
            if row is not None:
                family = db().get(TokenFamily, row.family_id)
                if family is not None:
                    return OAuthRefreshToken(row, family)
        return validate_access_token(self.config, db(), token_string)


class HubRevocation(_TokenLookup, RevocationEndpoint):
    """RFC 7009. Revoking either kind of token ends its whole family (refresh and access)."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.config = server.config

    def revoke_token(self, token: TokenMixin, request: Any) -> None:
        family = token.family if isinstance(token, OAuthRefreshToken) else None
        if isinstance(token, IssuedAccessToken) and token.subject is not None:
            family = token.subject.family
        if family is not None:
            tokens.revoke_family(db(), family, "revoked_by_application")
        note(
            "issuer.revoke",
            subject_user_id=family.user_id if family else None,
            details={"client_id": request.client.client_id, "family_revoked": family is not None},
        )


class HubIntrospection(_TokenLookup, IntrospectionEndpoint):
    """RFC 7662, for confidential applications, about their own tokens."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.config = server.config

    def check_permission(self, token: TokenMixin, client: OAuthClient, request: Any) -> bool:
        allowed = token.check_client(client)
        if not allowed:
            note("issuer.introspect", "failure",
                 details={"client_id": client.client_id, "reason": "token_of_another_application"})
        return allowed

    def introspect_token(self, token: TokenMixin) -> dict[str, Any]:
        if isinstance(token, IssuedAccessToken):
            found = dict(token.claims)
            found.update(active=True, token_type="Bearer")  # noqa: S106 - a token type, not a secret
            return found
        assert isinstance(token, OAuthRefreshToken)
        family = token.family
        user = db().get(User, family.user_id)
        if user is None or user.disabled_at is not None:
            return {"active": False}
        application = db().get(Application, family.application_id)
        assert application is not None
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": application.client_id,
            "scope": family.scope,
            "sub": claims.subject_for(user.id, user.public_subject, application, self.config.secret_key),
            "exp": int(family.expires_at.timestamp()),
            "iss": self.config.issuer,
        }


class HubEndSession(EndSessionEndpoint):
    """RP-initiated logout: the hub session of this browser ends (the view does the ending)."""

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.config = server.config

    def get_server_jwks(self) -> dict[str, Any]:
        return self.config.signing_keys.jwks()

    def get_algorithms(self) -> list[str]:
        return ["RS256", "ES256"]

    def end_session(self, end_session_request: Any) -> None:
        """Nothing here: the web layer ends the browser's hub session, which it alone knows."""

    def validate_request(self, request: Any) -> Any:
        """Authlib checks the hint's signature; the hub also wants an ID token it issued. Its
        access tokens (`at+jwt`) and logout tokens (`logout+jwt`) carry the same signature and
        must not stand in for one (RFC 8725 §3.11), nor a token naming another issuer."""
        validated = super().validate_request(request)
        if validated.id_token_claims is not None and not _is_id_token(
            request.payload.data["id_token_hint"], validated.id_token_claims, self.server.issuer
        ):
            raise InvalidRequestError("id_token_hint is not an ID token issued by this hub.")
        return validated


ID_TOKEN_TYPES = frozenset({None, "JWT", "jwt"})
"""`typ` headers an ID token may have; the hub's own are "JWT"."""


def _is_id_token(value: str, claims_: dict[str, Any], issuer: str) -> bool:
    try:
        header = jws.extract_compact(value.encode()).protected
    except (JoseError, ValueError):
        return False
    return (
        header.get("typ") in ID_TOKEN_TYPES
        and claims_.get("iss") == issuer
        and "events" not in claims_  # a logout token, whatever its header says
        and isinstance(claims_.get("sub"), str)
    )
