"""The issuer's public documents: OpenID Provider metadata (discovery, RFC 8414) and its keys."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from hub.issuer import applications, claims, signing
from hub.web import ratelimit
from hub.web.request import runtime
from hub.web.views.issuer.blueprint import bp

ASSERTION_ALGORITHMS = ("RS256", "ES256")
"""What a private_key_jwt client assertion may be signed with."""
PUBLIC_ENDPOINTS = frozenset({"issuer.jwks", "issuer.discovery", "issuer.oauth_metadata"})
"""Served without looking up the browser's session, so caches may keep them."""


def _issuer() -> str:
    return runtime().settings.base_url.rstrip("/")


def metadata() -> dict[str, Any]:
    """OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414)."""
    issuer = _issuer()
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/oauth2/jwks",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "scopes_supported": list(applications.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(applications.GRANT_TYPES),
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": list(signing.ALGORITHMS),
        # userinfo answers plain JSON: the optional userinfo_signing_alg_values_supported is
        # left out rather than published empty.
        "token_endpoint_auth_methods_supported": list(applications.AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(applications.AUTH_METHODS),
        # RFC 8414 §2: MUST be present when private_key_jwt is among the endpoint's methods.
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(claims.CLAIMS_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


def _cacheable(body: dict[str, Any], max_age: int) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
@ratelimit.exempt("applications fetch it without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def discovery() -> Response:
    return _cacheable(metadata(), 3600)


@bp.get("/.well-known/oauth-authorization-server")
@ratelimit.exempt("applications fetch it without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def oauth_metadata() -> Response:
    return _cacheable(metadata(), 3600)


@bp.get("/oauth2/jwks")
@ratelimit.exempt("applications fetch the keys without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def jwks() -> Response:
    # Shorter than the time a `next` key is published before it signs, so verifiers always
    # hold a key before it is used.
    return _cacheable(runtime().signing_keys.jwks(), 300)
