"""Authlib's models as thin views of the hub's rows: the client, the code, the refresh token, the
subject a token is about, and a validated access token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from hub.core.models import Application, AuthorizationCode, RefreshToken, TokenFamily, User, utcnow
from hub.issuer import applications, claims, sso, tokens


class OAuthClient(ClientMixin):
    """An Application row as Authlib's client."""

    def __init__(self, row: Application) -> None:
        self.row = row

    def __repr__(self) -> str:
        return f"OAuthClient({self.row.client_id!r})"

    @property
    def client_id(self) -> str:
        return self.row.client_id

    @property
    def id_token_signed_response_alg(self) -> str:
        return self.row.id_token_signed_response_alg

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {
            "post_logout_redirect_uris": self.row.post_logout_redirect_uris.get("uris", []),
            "token_endpoint_auth_method": applications.accepted_auth_methods(self.row)[0],
        }

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris.get("uris", [])
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.allowed_scopes.split())
        return " ".join(s for s in dict.fromkeys((scope or "").split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return applications.redirect_uri_matches(self.row, redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return applications.check_secret(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """The token, revocation and introspection endpoints alike."""
        return method in applications.accepted_auth_methods(self.row)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types.get("types", [])

    @property
    def is_public(self) -> bool:
        return applications.is_public(self.row)


class OAuthCode(AuthorizationCodeMixin):
    """A code row as Authlib's code; `claim`: the lookup that found it, with its user, session
    and grant read in the same statement."""

    def __init__(self, row: AuthorizationCode, claim: tokens.CodeClaim | None = None) -> None:
        self.row = row
        self.claim = claim
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.row.acr

    def get_amr(self) -> list[str] | None:
        return list(self.row.amr) or None


class OAuthRefreshToken(TokenMixin):
    """A refresh token and its family. `claim`, at the token endpoint: the lookup that found
    them, with the family's user and grant read in the same statement."""

    def __init__(self, row: RefreshToken, family: TokenFamily, claim: tokens.RefreshClaim | None = None) -> None:
        self.row = row
        self.family = family
        self.claim = claim
        self.repeated = False  # set by the refresh grant: answered again within the grace window

    def check_client(self, client: OAuthClient) -> bool:
        return self.family.application_id == client.row.id

    def get_scope(self) -> str:
        return self.family.scope

    def get_expires_in(self) -> int:
        return max(int((self.family.expires_at - utcnow()).total_seconds()), 0)

    def is_expired(self) -> bool:
        return self.family.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.family.revoked_at is not None or self.row.used_at is not None


@dataclass
class Subject:
    """The person a token is about, in the context of one application and one sign-in."""

    user: User
    application: Application
    secret_key: bytes = field(repr=False)
    sid: str | None = None
    auth_time: datetime | None = None
    provider_id: str | None = None
    family: TokenFamily | None = None
    grant_id: int | None = None
    amr: tuple[str, ...] = ()
    acr: str | None = None

    @property
    def application_sid(self) -> str | None:
        """The `sid` this application sees for the hub session (hub.issuer.sso.application_sid)."""
        if self.sid is None:
            return None
        return sso.application_sid(self.secret_key, self.sid, self.application.client_id)

    def get_user_id(self) -> str:
        """The `sub` this application sees (pairwise when it asked for it)."""
        return claims.subject_for(self.user.id, self.user.public_subject, self.application, self.secret_key)

    def __bool__(self) -> bool:
        return True


class IssuedAccessToken(TokenMixin):
    """A validated hub access token (RFC 9068 JWT), as resource-server code sees it."""

    def __init__(self, claims_: dict[str, Any], client: OAuthClient, subject: Subject | None) -> None:
        self.claims = claims_
        self.client = client
        self.subject = subject
        self.scope = claims_.get("scope", "")

    def get_client(self) -> OAuthClient:
        return self.client

    def get_user(self) -> Subject | None:
        return self.subject

    def check_client(self, client: OAuthClient) -> bool:
        return client.row.id == self.client.row.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(int(self.claims["exp"] - time.time()), 0)

    def is_expired(self) -> bool:
        return self.claims["exp"] <= time.time()

    def is_revoked(self) -> bool:
        return False
