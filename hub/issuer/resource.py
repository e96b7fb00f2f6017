"""The hub's own protected resource, userinfo: Bearer tokens as RFC 6750 lets a client send them,
validated as hub access tokens, answered with the claims the token's scopes allow."""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import ResourceProtector
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc.core import UserInfoEndpoint

from hub.issuer.access_tokens import validate_access_token
from hub.issuer.config import IssuerConfig
from hub.issuer.context import db
from hub.issuer.errors import TokenSentTwice
from hub.issuer.models import IssuedAccessToken, Subject
from hub.issuer.subjects import identity_claims

FORM_ENCODED = "application/x-www-form-urlencoded"


class HubTokenValidator(JWTBearerTokenValidator):
    """Bearer validation for the hub's own resources (userinfo): any enabled application's token."""

    def __init__(self, config: IssuerConfig) -> None:
        super().__init__(issuer=config.issuer, resource_server=None)
        self.config = config

    def authenticate_token(self, token_string: str) -> IssuedAccessToken:
        token = validate_access_token(self.config, db(), token_string)
        if token is None:
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes)
        return token

    def validate_token(self, token: IssuedAccessToken, scopes: Any, request: Any, **kwargs: Any) -> None:
        if self.scope_insufficient(token.scope.split(), scopes):
            raise InsufficientScopeError()


class HubResourceProtector(ResourceProtector):
    """Bearer tokens as RFC 6750 §2 lets a client send them to userinfo: in the Authorization
    header (§2.1) or as `access_token` in a form-encoded POST body (§2.2), never both. (The URI
    query, §2.3, is not accepted: URIs end up in logs.)"""

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        """`request`: Authlib's OAuth2Request, whose `form` is the form-encoded body."""
        mimetype = (request.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        in_body = request.method == "POST" and mimetype == FORM_ENCODED and "access_token" in request.form
        if not in_body:
            return super().parse_request_authorization(request)
        if "Authorization" in request.headers:
            raise TokenSentTwice(self.realm)
        return self.get_token_validator("bearer"), request.form["access_token"]


class HubUserInfo(UserInfoEndpoint):
    """OpenID Connect Core §5.3, answered as plain JSON (discovery publishes no signing
    algorithm for it): the claims of the token's person, as its scopes allow."""

    def __init__(self, config: IssuerConfig, protector: ResourceProtector) -> None:
        super().__init__(resource_protector=protector)
        self.config = config

    def __call__(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's own asks its framework adapter for the token (`acquire_token`); the hub
        validates the request it was given, so the issuer needs no framework."""
        token = self.resource_protector.validate_request(["openid"], request)
        return 200, self.generate_user_info(token.get_user(), token.scope), default_json_headers

    def get_issuer(self) -> str:
        return self.config.issuer

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        if user is None:
            raise InvalidTokenError(description="This token does not act for a person.")
        return identity_claims(self.config.hook, user, scope.split())
