"""The grant types (authorization code with PKCE S256 and OpenID Connect, refresh token with
rotation, client credentials) and the ID tokens they issue, over the hub's storage."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, OpenIDToken
from joserfc.jwk import KeySet

from hub.core.models import TokenFamily, utcnow
from hub.issuer import consent, tokens
from hub.issuer.client_auth import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from hub.issuer.config import IssuerConfig
from hub.issuer.context import db, note
from hub.issuer.models import OAuthClient, OAuthCode, OAuthRefreshToken, Subject
from hub.issuer.subjects import identity_claims, subject_of

if TYPE_CHECKING:
    from hub.issuer.server import HubAuthorizationServer

USER_SCOPES = frozenset({"openid", "profile", "email", "roles", "offline_access", "provider_tokens"})
"""Scopes that act for a person, which a client_credentials token (the application itself) never has."""


class PKCE(CodeChallenge):
    """RFC 7636 with S256 only: `plain` is refused, and public applications must use it."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.is_public and not challenge:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if challenge and method != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class HubIdTokens:
    """What every ID token of the hub shares, at code redemption and at refresh: signed with the
    application's algorithm (RS256 by default, ES256 on request), `iss`/`aud`/`azp`, and the
    person's claims with `sub`, `sid` and `idp` (`generate_user_info`)."""

    DEFAULT_EXPIRES_IN = tokens.ID_TOKEN_SECONDS
    config: IssuerConfig

    def resolve_client_private_key(self, client: OAuthClient) -> KeySet:
        return KeySet([self.config.signing_keys.signing_key(client.id_token_signed_response_alg)])

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        key = self.config.signing_keys.signing_key(client.id_token_signed_response_alg)
        return {"alg": client.id_token_signed_response_alg, "kid": key.kid or ""}

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        return {"iss": self.config.issuer, "aud": client.client_id, "azp": client.client_id}

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        found = identity_claims(self.config.hook, user, scope.split())
        if user.sid:
            found["sid"] = user.application_sid
        if user.provider_id:
            found["idp"] = user.provider_id
        return found


class HubOpenIDCode(HubIdTokens, OpenIDCode):
    """The ID token of a code redemption (with the authorization request's nonce)."""

    def __init__(self, config: IssuerConfig, query_client: Callable[[str | None], OAuthClient | None]) -> None:
        super().__init__(require_nonce=False)
        self.config = config
        self.query_client = query_client

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        client = request.client or self.query_client(request.payload.client_id)
        return client is not None and tokens.nonce_used(db(), client.row.id, nonce)


class HubRefreshIdToken(HubIdTokens, OpenIDToken):
    """A new ID token with every refresh of a grant that has `openid` (OpenID Connect Core
    §12.2, as Keycloak and Entra do): the same `iss`, `sub`, `aud`, `sid` and `auth_time` as the
    first one, a new `iat`, no `nonce`. Client libraries keep the last ID token they were given
    as the `id_token_hint` of their logout request."""

    def __init__(self, config: IssuerConfig) -> None:
        self.config = config

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        found = super().get_compatible_claims(request)
        subject: Subject = request.user
        found["auth_time"] = int(subject.auth_time.timestamp()) if subject.auth_time else found["auth_time"]
        if subject.acr:
            found["acr"] = subject.acr
        if subject.amr:
            found["amr"] = list(subject.amr)
        return found


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: HubAuthorizationServer

    def save_authorization_code(self, code: str, request: Any) -> None:
        subject: Subject = request.user
        tokens.save_code(
            db(),
            code,
            application_id=request.client.row.id,
            user_id=subject.user.id,
            sid=subject.sid,
            redirect_uri=request.payload.redirect_uri or request.client.get_default_redirect_uri(),
            scope=request.scope,
            nonce=request.payload.data.get("nonce"),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            auth_time=subject.auth_time or utcnow(),
            provider_id=subject.provider_id,
            amr=list(subject.amr),
            acr=subject.acr,
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> OAuthCode | None:
        claim = tokens.peek_code(db(), code, client.row.id)
        if claim.problem == "code_replayed":
            note(
                "issuer.code_replay",
                "failure",
                subject_user_id=claim.user_id,
                details={"client_id": client.client_id, "revoked_families": claim.revoked_families},
            )
        return OAuthCode(claim.code, claim) if claim.code is not None else None

    def delete_authorization_code(self, authorization_code: OAuthCode) -> None:
        """Nothing to delete: the code was marked used when it was redeemed (authenticate_user)
        and stays until it expires, so a replay is recognised."""

    def authenticate_user(self, authorization_code: OAuthCode) -> Subject:
        code = authorization_code.row
        client: OAuthClient = self.request.client
        found = authorization_code.claim
        assert found is not None  # made by query_authorization_code
        user = found.user
        if user is None or user.disabled_at is not None:
            raise InvalidGrantError("The user of this code may no longer sign in.")
        if code.sid is None or not found.session_alive:
            raise InvalidGrantError("The hub session this code was issued in has ended.")
        if found.grant_id is None:
            raise InvalidGrantError("Access for this application was removed.")
        if not tokens.redeem_code(db(), code):
            revoked = tokens.revoke_families(db(), TokenFamily.code_hash == code.code_hash, "code_replayed")
            note("issuer.code_replay", "failure", subject_user_id=user.id,
                 details={"client_id": client.client_id, "revoked_families": revoked})
            raise InvalidGrantError("This code was already used.")
        offline = "offline_access" in code.scope.split()
        family = tokens.start_family(
            db(),
            application_id=client.row.id,
            user_id=user.id,
            grant_id=found.grant_id,
            sid=None if offline else code.sid,
            origin_sid=code.sid,
            code_hash=code.code_hash,
            scope=code.scope,
            auth_time=code.auth_time,
            provider_id=code.provider_id,
            amr=code.amr,
            acr=code.acr,
        )
        consent.touch(db(), found.grant_id, found.grant_last_used_at)
        return subject_of(user, client.row, family, sid=code.sid, secret_key=self.server.config.secret_key)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: HubAuthorizationServer
    INCLUDE_NEW_REFRESH_TOKEN = False
    """issue_token adds the successor `rotate_refresh` stored."""

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthRefreshToken | None:
        client: OAuthClient = self.request.client
        found = tokens.find_refresh(db(), refresh_token, client.row.id, self.server.rotation)
        if found.problem == "refresh_reused":
            note(
                "issuer.refresh_reuse",
                "failure",
                subject_user_id=found.family.user_id if found.family else None,
                details={"client_id": client.client_id, "family_revoked": True},
            )
        if found.token is None or found.family is None:
            return None
        return OAuthRefreshToken(found.token, found.family, found)

    def authenticate_user(self, refresh_token: OAuthRefreshToken) -> Subject:
        family = refresh_token.family
        client: OAuthClient = self.request.client
        found = refresh_token.claim
        assert found is not None  # made by authenticate_refresh_token
        user = found.user
        if user is None or user.disabled_at is not None:
            raise InvalidGrantError("The user of this token may no longer sign in.")
        if family.grant_id is None or found.grant_id is None:
            raise InvalidGrantError("Access for this application was removed.")
        check = self.server.config.account_check
        refusal = check(db(), user.id, family.provider_id) if check is not None else None
        if refusal is not None:  # what the account admitted was cut off in this transaction
            raise InvalidGrantError(f"The upstream account no longer admits this token: {refusal}.")
        outcome = tokens.rotate_refresh(db(), found, self.server.rotation)
        refresh_token.repeated = outcome == tokens.REPEATED
        if outcome == tokens.REUSED:
            note("issuer.refresh_reuse", "failure", subject_user_id=user.id,
                 details={"client_id": client.client_id, "family_revoked": True})
            raise InvalidGrantError("This refresh token was already used.")
        consent.touch(db(), found.grant_id, found.grant_last_used_at)
        return subject_of(
            user, client.row, family, sid=family.origin_sid or family.sid, secret_key=self.server.config.secret_key
        )

    def issue_token(self, user: Subject, refresh_token: OAuthRefreshToken) -> dict[str, Any]:
        """The new tokens, with the successor `rotate_refresh` stored (derived from the presented
        token, so a forgiven repetition hands out the same one)."""
        token = super().issue_token(user, refresh_token)
        token["refresh_token"] = refresh_token.claim.successor
        return token

    def revoke_old_credential(self, refresh_token: OAuthRefreshToken) -> None:
        """Already spent in authenticate_user, atomically, with the successor stored."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """For service applications acting as themselves; no user, no refresh token."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        asked = set((self.request.payload.scope or "").split())
        if asked & USER_SCOPES:
            raise InvalidScopeError("client_credentials tokens act for the application, not a person.")
        super().validate_token_request()
