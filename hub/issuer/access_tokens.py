"""The hub's access tokens: RFC 9068 JWTs, issued (`HubAccessTokens`) and validated
(`validate_access_token`, for the hub's own resources and resource-server code)."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from hub.core.models import User
from hub.issuer import applications, tokens
from hub.issuer.config import IssuerConfig
from hub.issuer.models import IssuedAccessToken, OAuthClient, Subject
from hub.issuer.subjects import subject_of

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
"""RFC 9068 §2.1's `typ`: what tells an access token from an ID or logout token signed alike."""


class HubAccessTokens(JWTBearerTokenGenerator):
    """Access tokens as RFC 9068 JWTs signed with the current RS256 key, with opaque refresh
    tokens beside them (stored as hashes by hub.issuer.tokens)."""

    def __init__(self, config: IssuerConfig) -> None:
        super().__init__(
            config.issuer,
            alg="RS256",
            refresh_token_generator=lambda *args, **kwargs: secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: tokens.ACCESS_TOKEN_SECONDS,
        )
        self.config = config

    def get_jwks(self) -> KeySet:
        return KeySet([self.config.signing_keys.signing_key("RS256")])

    def get_amr(self, user: Subject | None) -> list[str] | None:
        return list(user.amr) if user is not None and user.amr else None

    def get_acr(self, user: Subject | None) -> str | None:
        return user.acr if user is not None else None

    def get_auth_time(self, user: Subject | None) -> int | None:
        return int(user.auth_time.timestamp()) if user is not None and user.auth_time else None

    def get_extra_claims(self, client: OAuthClient, grant_type: str, user: Subject | None, scope: str) -> dict:
        extra: dict[str, Any] = {}
        if user is not None:
            if user.sid:
                extra["sid"] = user.application_sid
            if user.family is not None:
                extra["hub_fid"] = user.family.public_id
        return extra


def _decode(config: IssuerConfig, value: str) -> dict[str, Any] | None:
    """The claims of a hub access token whose signature, issuer, type and lifetime check out."""
    if not value or len(value) > 8192 or value.count(".") != 2:
        return None
    try:
        token = jwt.decode(value, config.signing_keys.public_key_set(), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError):
        return None
    if token.header.get("typ", "").lower() not in ACCESS_TOKEN_TYPES:
        return None
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": config.issuer},
        exp={"essential": True},
        client_id={"essential": True},
    )
    try:
        registry.validate(token.claims)
    except JoseError:
        return None
    return dict(token.claims)


def validate_access_token(
    config: IssuerConfig, session: Session, value: str, audience: str | None = None
) -> IssuedAccessToken | None:
    """A live hub access token: signed by the hub, unexpired, its application enabled, its user
    enabled, its token family (session, grant) not revoked. `audience`: also require this
    client id in `aud`. Returns None for anything else. For resource-server code such as the
    provider-token API."""
    found = _decode(config, value)
    if found is None:
        return None
    aud = found.get("aud")
    audiences = [aud] if isinstance(aud, str) else list(aud or [])
    if found["client_id"] not in audiences or (audience is not None and audience not in audiences):
        return None
    application = applications.find_enabled(session, found["client_id"])
    if application is None:
        return None
    client = OAuthClient(application)
    fid = found.get("hub_fid")
    if fid is None:  # client_credentials: the application acting as itself
        return IssuedAccessToken(found, client, None) if found["sub"] == application.client_id else None
    family = tokens.family_by_public_id(session, fid)
    if not tokens.family_active(family) or family.application_id != application.id:
        return None
    user = session.get(User, family.user_id)
    if user is None or user.disabled_at is not None:
        return None
    subject = subject_of(user, application, family, sid=family.sid, secret_key=config.secret_key)
    return IssuedAccessToken(found, client, subject)
