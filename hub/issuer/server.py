"""Authlib's authorization server with the hub's storage: grants, endpoints and token formats.

The shape is Authlib's example OIDC server, without its shortcuts: client secrets, codes and
refresh tokens are stored as hashes; PKCE is S256 only and required for public applications;
access tokens are RFC 9068 JWTs signed with the hub's keys (hub.issuer.signing); refresh tokens
are opaque, rotated on every use, with reuse detection (hub.issuer.tokens).

Each protocol request runs in one database transaction that the view opens (`use_session`).
An error answer commits too, because what it wrote is deliberate: a revoked family after a
replayed code or reused refresh token, and the failure's audit event.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, OpenIDToken, UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, g
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from hub.core.audit import RequestContext
from hub.core.errors import HubError
from hub.core.models import (
    Application,
    AuthorizationCode,
    RefreshToken,
    TokenFamily,
    User,
    WebSession,
    utcnow,
)
from hub.issuer import applications, claims, sso, tokens
from hub.issuer import consent as consent
from hub.issuer.client_cache import ApplicationCache
from hub.runtime import Runtime
from hub.upstream.http import ProviderSession

log = logging.getLogger(__name__)

# Authlib logs issued token dicts at DEBUG ("Issue token %r to %r"): never let them reach a log.
logging.getLogger("authlib").setLevel(logging.INFO)

USER_SCOPES = frozenset({"openid", "profile", "email", "roles", "offline_access", "provider_tokens"})
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
PRIVATE_KEY_JWT = "private_key_jwt"
JWKS_CACHE_SECONDS = 300.0


# --- the request's database session and audit trail ------------------------------------------


def use_session(session: Session) -> None:
    """Bind the protocol request's transaction; every storage hook below writes through it."""
    g.issuer_db = session
    g.issuer_events = []


def db() -> Session:
    return g.issuer_db


def note(event_type: str, outcome: str = "success", **fields: Any) -> None:
    """Queue an audit event; the view records the queue as the transaction's last statements."""
    g.setdefault("issuer_events", []).append((event_type, outcome, fields))


def record_events(rt: Runtime, session: Session, context: RequestContext) -> None:
    for event_type, outcome, fields in g.pop("issuer_events", []):
        details = dict(fields.pop("details", {}) or {})
        rt.audit.record(session, event_type, outcome, context=context, details=details, **fields)


# --- Authlib's models, as thin views of the hub's rows ----------------------------------------


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


def subject_of(user: User, application: Application, family: TokenFamily, *, sid: str | None) -> Subject:
    """The subject of a token issued under `family`, which carries the sign-in's facts. `sid` is
    the hub session's even when an offline family is bound to none (the ID token still names it)."""
    return Subject(
        user=user,
        application=application,
        secret_key=_server().rt.keys.secret_key,
        sid=sid,
        auth_time=family.auth_time,
        provider_id=family.provider_id,
        family=family,
        grant_id=family.grant_id,
        amr=tuple(family.amr),
        acr=family.acr,
    )


class AccessToken(TokenMixin):
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


# --- the server ----------------------------------------------------------------------------------


class HubAuthorizationServer(AuthorizationServer):
    """Authlib's Flask server bound to the hub's runtime."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt
        self.issuer = rt.settings.base_url.rstrip("/")
        self.clients = ApplicationCache()
        self.rotation = tokens.Rotation(
            rt.keys.secret_key, timedelta(seconds=rt.settings.refresh_reuse_grace_seconds)
        )

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
        if name == "after_authenticate_client" and kwargs.get("client") is not None:
            g.issuer_client_id = kwargs["client"].client_id
        super().send_signal(name, *args, **kwargs)


CLIENT_AUTHENTICATION_FAILED = (
    "Client authentication failed: check the client id and secret, and that the application "
    "authenticates the way it is registered (its token endpoint auth method)."
)


def _quoted(value: str) -> str:
    """An RFC 7235 quoted-string's content (RFC 6749 error descriptions exclude both anyway)."""
    return value.replace("\\", "").replace('"', "'")


class ClientAuthenticationFailed(InvalidClientError):
    """RFC 6749 §5.2's `invalid_client`. A 401 carries a Basic challenge with the `realm` RFC 7617
    requires (Authlib's has none), and the description says what to check, not Authlib's
    Python list of method names."""

    def __init__(self, realm: str, status_code: int, description: str) -> None:
        super().__init__(status_code=status_code, description=description)
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        headers = OAuth2Error.get_headers(self)
        if self.status_code == 401:
            headers.append((
                "WWW-Authenticate",
                f'Basic realm="{_quoted(self.realm)}", error="invalid_client", '
                f'error_description="{_quoted(self.get_error_description())}"',
            ))
        return headers


class BearerTokenMissing(OAuth2Error):
    """A protected resource (userinfo) asked without a Bearer token: RFC 6750 §3.1 says the
    challenge then names the scheme and realm and no error code (Authlib sends its own
    `missing_authorization`, which no client knows). The JSON body says what to send."""

    error = "invalid_token"
    status_code = 401
    description = "No access token was sent: send it as `Authorization: Bearer <token>`."

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("WWW-Authenticate", f'Bearer realm="{_quoted(self.realm)}"')]


def standard_error(error: OAuth2Error, realm: str) -> OAuth2Error:
    """Authlib's error, or the RFC-exact one where Authlib's answer differs from the RFCs."""
    from authlib.oauth2.rfc6749.errors import (
        MissingAuthorizationError,
        UnsupportedGrantTypeError,
        UnsupportedResponseTypeError,
        UnsupportedTokenTypeError,
    )
    from flask import request as flask_request

    if isinstance(error, MissingAuthorizationError | UnsupportedTokenTypeError):
        return BearerTokenMissing(realm)
    if isinstance(error, UnsupportedResponseTypeError):  # RFC 6749 §4.1.2.1
        missing = not flask_request.values.get("response_type")
        return OAuth2Error(
            "The request has no response_type: send response_type=code." if missing
            else "Only response_type=code is supported.",
            error="invalid_request" if missing else "unsupported_response_type",
            state=error.state,
            redirect_uri=error.redirect_uri,
        )
    if isinstance(error, UnsupportedGrantTypeError) and not flask_request.form.get("grant_type"):  # RFC 6749 §5.2
        return InvalidRequestError("The request has no grant_type.")
    if type(error) is InvalidClientError:
        description = error.get_error_description() or ""
        if description.startswith("The client cannot authenticate with methods") or "does not exist" in description:
            description = CLIENT_AUTHENTICATION_FAILED
        return ClientAuthenticationFailed(realm, error.status_code, description)
    return error


def note_failure(error: OAuth2Error, event_type: str | None = None) -> None:
    """Queue the audit event of a refused protocol request (RFC error code as the reason)."""
    from flask import request as flask_request

    endpoint = (flask_request.endpoint or "").rpartition(".")[2]
    note(
        event_type or f"issuer.{endpoint or 'request'}",
        "failure",
        details={
            "reason": error.error,
            "client_id": (flask_request.values.get("client_id") or "")[:64] or None,
            "grant_type": (flask_request.form.get("grant_type") or "")[:64] or None,
        },
    )


def _server() -> HubAuthorizationServer:
    from flask import current_app

    return current_app.extensions["hub.issuer"]


# --- tokens: RFC 9068 access tokens, opaque refresh tokens -------------------------------------


class HubAccessTokens(JWTBearerTokenGenerator):
    """Access tokens as RFC 9068 JWTs signed with the current RS256 key."""

    def __init__(self, rt: Runtime, issuer: str) -> None:
        super().__init__(
            issuer,
            alg="RS256",
            refresh_token_generator=lambda *args, **kwargs: secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: tokens.ACCESS_TOKEN_SECONDS,
        )
        self.rt = rt

    def get_jwks(self) -> KeySet:
        return KeySet([self.rt.signing_keys.signing_key("RS256")])

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


# --- grants ------------------------------------------------------------------------------------


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
    rt: Runtime

    def resolve_client_private_key(self, client: OAuthClient) -> KeySet:
        return KeySet([self.rt.signing_keys.signing_key(client.id_token_signed_response_alg)])

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        key = self.rt.signing_keys.signing_key(client.id_token_signed_response_alg)
        return {"alg": client.id_token_signed_response_alg, "kid": key.kid or ""}

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        return {"iss": _server().issuer, "aud": client.client_id, "azp": client.client_id}

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        found = identity_claims(self.rt, user, scope.split())
        if user.sid:
            found["sid"] = user.application_sid
        if user.provider_id:
            found["idp"] = user.provider_id
        return found


class HubOpenIDCode(HubIdTokens, OpenIDCode):
    """The ID token of a code redemption (with the authorization request's nonce)."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(require_nonce=False)
        self.rt = rt

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        client = request.client or _server().query_client(request.payload.client_id)
        return client is not None and tokens.nonce_used(db(), client.row.id, nonce)


class HubRefreshIdToken(HubIdTokens, OpenIDToken):
    """A new ID token with every refresh of a grant that has `openid` (OpenID Connect Core
    §12.2, as Keycloak and Entra do): the same `iss`, `sub`, `aud`, `sid` and `auth_time` as the
    first one, a new `iat`, no `nonce`. Client libraries keep the last ID token they were given
    as the `id_token_hint` of their logout request."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        found = super().get_compatible_claims(request)
        subject: Subject = request.user
        found["auth_time"] = int(subject.auth_time.timestamp()) if subject.auth_time else found["auth_time"]
        if subject.acr:
            found["acr"] = subject.acr
        if subject.amr:
            found["amr"] = list(subject.amr)
        return found


def identity_claims(rt: Runtime, subject: Subject, scopes: list[str]) -> dict[str, Any]:
    """`sub` and the claims the scopes allow, after the `hub_token_claims` plugins."""
    person = claims.user_view(db(), subject.user, subject.provider_id)
    found = claims.scoped_claims(person, scopes)
    found = claims.apply_plugins(rt.pm.hook, claims.application_view(subject.application), person, scopes, found)
    found["sub"] = subject.get_user_id()
    return found


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

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
        return subject_of(user, client.row, family, sid=code.sid)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = False
    """issue_token adds the successor `rotate_refresh` stored."""

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthRefreshToken | None:
        client: OAuthClient = self.request.client
        found = tokens.find_refresh(db(), refresh_token, client.row.id, _server().rotation)
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
        outcome = tokens.rotate_refresh(db(), found, _server().rotation)
        refresh_token.repeated = outcome == tokens.REPEATED
        if outcome == tokens.REUSED:
            note("issuer.refresh_reuse", "failure", subject_user_id=user.id,
                 details={"client_id": client.client_id, "family_revoked": True})
            raise InvalidGrantError("This refresh token was already used.")
        consent.touch(db(), found.grant_id, found.grant_last_used_at)
        return subject_of(user, client.row, family, sid=family.origin_sid or family.sid)

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

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT]

    def validate_token_request(self) -> None:
        asked = set((self.request.payload.scope or "").split())
        if asked & USER_SCOPES:
            raise InvalidScopeError("client_credentials tokens act for the application, not a person.")
        super().validate_token_request()


class PrivateKeyJWT(JWTBearerClientAssertion):
    """`private_key_jwt` (RFC 7523 §2.2): the application signs an assertion with its own key."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, rt: Runtime, audiences: list[str]) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.rt = rt
        self.audiences = audiences
        self._http = ProviderSession(timeout=(2.0, 5.0))
        self._jwks_cache: dict[str, tuple[float, KeySet]] = {}

    def get_audiences(self) -> list[str]:
        return self.audiences

    def validate_jti(self, claims_: Any, jti: str) -> bool:
        expires = datetime.fromtimestamp(int(claims_.get("exp", time.time())) + 60, tz=UTC)
        return tokens.remember_assertion(db(), f"{claims_['sub']}|{jti}", expires)

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        if client.row.jwks:
            return KeySet.import_key_set(client.row.jwks)
        if client.row.jwks_uri:
            return self._fetch_jwks(client.row.jwks_uri)
        raise InvalidClientError(description="The application has no public keys registered.")

    def _fetch_jwks(self, uri: str) -> KeySet:
        """The application's JWKS from its jwks_uri, cached for JWKS_CACHE_SECONDS."""
        cached = self._jwks_cache.get(uri)
        if cached is not None and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
        try:
            response = self._http.get(uri)
            key_set = KeySet.import_key_set(response.json()) if response.ok else None
        except (HubError, ValueError, JoseError):
            key_set = None
        if key_set is None:
            raise InvalidClientError(description="The application's jwks_uri could not be read.")
        self._jwks_cache[uri] = (time.monotonic(), key_set)
        return key_set


# --- endpoints ----------------------------------------------------------------------------------


def _decode_access_token(rt: Runtime, value: str) -> dict[str, Any] | None:
    """The claims of a hub access token whose signature, issuer, type and lifetime check out."""
    if not value or len(value) > 8192 or value.count(".") != 2:
        return None
    try:
        token = jwt.decode(value, rt.signing_keys.public_key_set(), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError):
        return None
    if token.header.get("typ", "").lower() not in {"at+jwt", "application/at+jwt"}:
        return None
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": rt.settings.base_url.rstrip("/")},
        exp={"essential": True},
        client_id={"essential": True},
    )
    try:
        registry.validate(token.claims)
    except JoseError:
        return None
    return dict(token.claims)


def validate_access_token(rt: Runtime, session: Session, value: str, audience: str | None = None) -> AccessToken | None:
    """A live hub access token: signed by the hub, unexpired, its application enabled, its user
    enabled, its token family (session, grant) not revoked. `audience`: also require this
    client id in `aud`. Returns None for anything else. For resource-server code such as the
    provider-token API."""
    found = _decode_access_token(rt, value)
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
        return AccessToken(found, client, None) if found["sub"] == application.client_id else None
    family = tokens.family_by_public_id(session, fid)
    if not tokens.family_active(family) or family.application_id != application.id:
        return None
    user = session.get(User, family.user_id)
    if user is None or user.disabled_at is not None:
        return None
    subject = Subject(
        user=user,
        application=application,
        secret_key=rt.keys.secret_key,
        sid=family.sid,
        auth_time=family.auth_time,
        provider_id=family.provider_id,
        family=family,
        grant_id=family.grant_id,
        amr=tuple(family.amr),
        acr=family.acr,
    )
    return AccessToken(found, client, subject)


class HubTokenValidator(JWTBearerTokenValidator):
    """Bearer validation for the hub's own resources (userinfo): any enabled application's token."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(issuer=rt.settings.base_url.rstrip("/"), resource_server=None)
        self.rt = rt

    def authenticate_token(self, token_string: str) -> AccessToken:
        token = validate_access_token(self.rt, db(), token_string)
        if token is None:
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes)
        return token

    def validate_token(self, token: AccessToken, scopes: Any, request: Any, **kwargs: Any) -> None:
        from authlib.oauth2.rfc6750 import InsufficientScopeError

        if self.scope_insufficient(token.scope.split(), scopes):
            raise InsufficientScopeError()


class TokenSentTwice(InvalidRequestError):
    """RFC 6750 §2: a client MUST NOT send its access token in more than one way in a request;
    such a request is `invalid_request` (§3.1), with the Bearer challenge naming it."""

    def __init__(self, realm: str) -> None:
        super().__init__(
            "The access token was sent twice: send it in the Authorization header or in the "
            "form body's access_token, not both."
        )
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), (
            "WWW-Authenticate",
            f'Bearer realm="{_quoted(self.realm)}", error="invalid_request", '
            f'error_description="{_quoted(self.get_error_description())}"',
        )]


class HubResourceProtector(ResourceProtector):
    """Bearer tokens as RFC 6750 §2 lets a client send them to userinfo: in the Authorization
    header (§2.1) or as `access_token` in a form-encoded POST body (§2.2), never both. (The URI
    query, §2.3, is not accepted: URIs end up in logs.)"""

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        from flask import request as flask_request

        in_body = (
            flask_request.method == "POST"
            and flask_request.mimetype == "application/x-www-form-urlencoded"
            and "access_token" in flask_request.form
        )
        if not in_body:
            return super().parse_request_authorization(request)
        if "Authorization" in request.headers:
            raise TokenSentTwice(self.realm)
        return self.get_token_validator("bearer"), flask_request.form["access_token"]


class HubUserInfo(UserInfoEndpoint):
    def __init__(self, rt: Runtime, protector: ResourceProtector) -> None:
        super().__init__(resource_protector=protector)
        self.rt = rt

    def get_issuer(self) -> str:
        return self.rt.settings.base_url.rstrip("/")

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        if user is None:
            raise InvalidTokenError(description="This token does not act for a person.")
        return identity_claims(self.rt, user, scope.split())


class _TokenLookup:
    """Shared by revocation and introspection: a refresh token or an access token, by value."""

    rt: Runtime

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenMixin | None:
        if token_type_hint != "access_token":  # noqa: S105 - a hint name, not a secret
            row = db().get(RefreshToken, tokens.token_hash(token_string)) if len(token_string) <= 256 else None
            if row is not None:
                family = db().get(TokenFamily, row.family_id)
                if family is not None:
                    return OAuthRefreshToken(row, family)
        return validate_access_token(self.rt, db(), token_string)


class HubRevocation(_TokenLookup, RevocationEndpoint):
    """RFC 7009. Revoking either kind of token ends its whole family (refresh and access)."""

    CLIENT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.rt = server.rt

    def revoke_token(self, token: TokenMixin, request: Any) -> None:
        family = token.family if isinstance(token, OAuthRefreshToken) else None
        if isinstance(token, AccessToken) and token.subject is not None:
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

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT]

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.rt = server.rt

    def check_permission(self, token: TokenMixin, client: OAuthClient, request: Any) -> bool:
        allowed = token.check_client(client)
        if not allowed:
            note("issuer.introspect", "failure",
                 details={"client_id": client.client_id, "reason": "token_of_another_application"})
        return allowed

    def introspect_token(self, token: TokenMixin) -> dict[str, Any]:
        if isinstance(token, AccessToken):
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
            "sub": claims.subject_for(user.id, user.public_subject, application, self.rt.keys.secret_key),
            "exp": int(family.expires_at.timestamp()),
            "iss": self.rt.settings.base_url.rstrip("/"),
        }


class HubEndSession(EndSessionEndpoint):
    """RP-initiated logout: the hub session of this browser ends (the view does the ending)."""

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(server)
        self.rt = server.rt

    def get_server_jwks(self) -> dict[str, Any]:
        return self.rt.signing_keys.jwks()

    def get_algorithms(self) -> list[str]:
        return ["RS256", "ES256"]

    def end_session(self, end_session_request: Any) -> None:
        g.issuer_end_session = end_session_request

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


class HubIssuerParameter(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, errors included."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def build(app: Flask, rt: Runtime) -> HubAuthorizationServer:
    """The issuer's authorization server for one app (app.extensions["hub.issuer"])."""
    server = HubAuthorizationServer(rt)
    issuer = server.issuer
    server.register_token_generator("default", HubAccessTokens(rt, issuer))
    server.scopes_supported = list(applications.SCOPES)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWT(rt, [f"{issuer}/oauth2/token", issuer]))
    server.register_grant(AuthorizationCodeGrant, [PKCE(required=True), HubOpenIDCode(rt)])
    server.register_grant(RefreshTokenGrant, [HubRefreshIdToken(rt)])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(HubRevocation(server))
    server.register_endpoint(HubIntrospection(server))
    server.register_endpoint(HubEndSession(server))
    protector = HubResourceProtector(issuer)
    protector.register_token_validator(HubTokenValidator(rt))
    server.register_endpoint(HubUserInfo(rt, protector))
    server.register_extension(HubIssuerParameter(issuer))
    server.issuer_parameter = HubIssuerParameter(issuer)
    app.extensions["hub.issuer"] = server
    return server


def subject_of_session(rt: Runtime, current: Any, application: Application) -> Subject:
    """The Subject for a signed-in browser authorizing `application`. Its `sid` is given (and
    created) only when the authorization succeeds (`join_session`)."""
    row: WebSession = current.row
    return Subject(
        user=current.user,
        application=application,
        secret_key=rt.keys.secret_key,
        sid=None,
        auth_time=row.created_at,
        provider_id=row.provider_id,
        amr=tuple(row.amr or ()),
        acr=row.acr,
    )


def join_session(session: Session, current: Any, subject: Subject) -> str:
    """Give the subject its hub session's `sid` and record the application in it; returns the
    `sid` this application sees."""
    subject.sid = sso.sid_for(session, current.row.id_hash, current.user.id)
    sso.record_application(session, subject.sid, subject.application.id)
    sid = subject.application_sid
    assert sid is not None
    return sid


def session_as_seen_by(session: Session, current: Any, application: Application) -> tuple[str, str | None]:
    """The `sub` and `sid` that `application` sees for this browser's hub session, as its ID
    tokens carry them (the sid as `join_session` returns it); the sid is None while no
    application has used the session. Reads only: for comparing an end-session hint."""
    subject = subject_of_session(_server().rt, current, application)
    subject.sid = sso.sid_of(session, current.row.id_hash)
    return subject.get_user_id(), subject.application_sid


__all__ = [
    "AccessToken",
    "HubAuthorizationServer",
    "OAuthClient",
    "Subject",
    "build",
    "join_session",
    "note",
    "note_failure",
    "record_events",
    "session_as_seen_by",
    "subject_of_session",
    "use_session",
    "validate_access_token",
]
