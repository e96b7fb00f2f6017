"""The relying-party toolkit for provider plugins: OAuth 2.0 and OpenID Connect, by spec.

Each module implements one specification; this package re-exports every name plugins
import, so `from hub.upstream.protocol import TokenClient` keeps working for plugins written against
hub_api_version 1 (tests/unit/test_oidc_public_names.py imports each documented name).

| module | implements |
| --- | --- |
| `hub.upstream.protocol.discovery` | OpenID Connect Discovery 1.0 / RFC 8414 metadata, cached |
| `hub.upstream.protocol.keys` | JWKS (RFC 7517) cache and key-rotation refetch budgets |
| `hub.upstream.protocol.id_token` | ID token validation (OIDC Core 3.1.3.7) with joserfc |
| `hub.upstream.protocol.client_auth` | client authentication (RFC 6749 2.3, RFC 7523) on Authlib |
| `hub.upstream.protocol.token_endpoint` | code, refresh and revocation requests (RFC 6749, RFC 7009) on Authlib |
| `hub.upstream.protocol.authorization` | the authorization request with PKCE (RFC 7636) and response `iss` (RFC 9207) |
| `hub.upstream.protocol.userinfo` | UserInfo (OIDC Core 5.3) and other protected JSON resources |
| `hub.upstream.protocol.logout_token` | back-channel logout tokens (OIDC Back-Channel Logout 1.0) |
| `hub.upstream.protocol.settings` | checks for provider settings |
| `hub.upstream.protocol.oauth2_provider` | `OAuth2Provider`, the base class of plain OAuth 2.0 provider types |
| `hub.upstream.protocol.openid_provider` | `OpenIdConnectProvider`, the base class of OpenID Connect provider types |

Nothing here knows a provider by name; quirks (Entra's `{tenantid}` issuer, AADSTS codes,
GitHub's error names) come in through hooks and small callables. Every outbound call goes
through the provider's `requests.Session` (the hub's ProviderSession), and time comes from an
injectable `clock`.
"""

from hub.upstream.protocol.authorization import (
    ISS_PARAMETER_SUPPORTED,
    authorization_url,
    check_authorization_response_issuer,
    check_callback_issuer,
    s256_code_challenge,
)
from hub.upstream.protocol.client_auth import (
    ASSERTION_LIFETIME,
    CLIENT_ASSERTION_TYPE,
    ClientAuth,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    secret_client_auth,
)
from hub.upstream.protocol.common import DEFAULT_CLOCK_SKEW, Clock, add_query, b64url, read_json, redact
from hub.upstream.protocol.discovery import (
    DEFAULT_DISCOVERY_TTL,
    DiscoveryCache,
    ProviderMetadata,
    exact_issuer,
)
from hub.upstream.protocol.id_token import ALLOWED_ALGORITHMS, IdTokenValidator, ValidatedIdToken
from hub.upstream.protocol.keys import (
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_TTL,
    JwksCache,
    SigningKey,
    parse_jwks,
)
from hub.upstream.protocol.logout_token import (
    BACKCHANNEL_LOGOUT_EVENT,
    LOGOUT_TOKEN_TYPE,
    JtiCache,
    LogoutTokenValidator,
    ValidatedLogoutToken,
)
from hub.upstream.protocol.oauth2_provider import AUTHORIZATION_ERRORS, OAuth2Provider, subject_from
from hub.upstream.protocol.openid_provider import (
    OpenIdConnectProvider,
    check_same_person,
    discovery_health,
    profile_from_claims,
)
from hub.upstream.protocol.settings import (
    GUID_PATTERN,
    base_url_setting,
    check_known_keys,
    flag_setting,
    is_guid,
    scopes_setting,
    seconds_setting,
    string_map_setting,
    text_setting,
)
from hub.upstream.protocol.token_endpoint import (
    OAuthErrorBody,
    ProviderCodeFinder,
    TokenClient,
    TokenResponse,
    map_oauth_error,
    no_provider_code,
    parse_oauth_error,
)
from hub.upstream.protocol.userinfo import check_userinfo_subject, fetch_protected_json, fetch_userinfo

__all__ = [
    "ALLOWED_ALGORITHMS",
    "ASSERTION_LIFETIME",
    "AUTHORIZATION_ERRORS",
    "BACKCHANNEL_LOGOUT_EVENT",
    "CLIENT_ASSERTION_TYPE",
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_DISCOVERY_TTL",
    "DEFAULT_JWKS_COOLDOWN",
    "DEFAULT_JWKS_TTL",
    "GUID_PATTERN",
    "ISS_PARAMETER_SUPPORTED",
    "LOGOUT_TOKEN_TYPE",
    "ClientAuth",
    "ClientSecretBasic",
    "ClientSecretPost",
    "Clock",
    "DiscoveryCache",
    "IdTokenValidator",
    "JtiCache",
    "JwksCache",
    "LogoutTokenValidator",
    "OAuth2Provider",
    "OAuthErrorBody",
    "OpenIdConnectProvider",
    "PrivateKeyJwt",
    "ProviderCodeFinder",
    "ProviderMetadata",
    "SigningKey",
    "TokenClient",
    "TokenResponse",
    "ValidatedIdToken",
    "ValidatedLogoutToken",
    "add_query",
    "authorization_url",
    "b64url",
    "base_url_setting",
    "check_authorization_response_issuer",
    "check_callback_issuer",
    "check_known_keys",
    "check_same_person",
    "check_userinfo_subject",
    "discovery_health",
    "exact_issuer",
    "fetch_protected_json",
    "flag_setting",
    "fetch_userinfo",
    "is_guid",
    "map_oauth_error",
    "no_provider_code",
    "parse_jwks",
    "parse_oauth_error",
    "profile_from_claims",
    "read_json",
    "redact",
    "s256_code_challenge",
    "scopes_setting",
    "seconds_setting",
    "secret_client_auth",
    "string_map_setting",
    "subject_from",
    "text_setting",
]
