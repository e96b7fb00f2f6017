"""The issuer's protocol errors: the RFC-exact answers where Authlib's differ, and their audit."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.errors import (
    MissingAuthorizationError,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
    UnsupportedTokenTypeError,
)

from hub.issuer import context

CLIENT_AUTHENTICATION_FAILED = (
    "Client authentication failed: check the client id and secret, and that the application "
    "authenticates the way it is registered (its token endpoint auth method)."
)


def quoted(value: str) -> str:
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
                f'Basic realm="{quoted(self.realm)}", error="invalid_client", '
                f'error_description="{quoted(self.get_error_description())}"',
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
        return [*super().get_headers(), ("WWW-Authenticate", f'Bearer realm="{quoted(self.realm)}"')]


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
            f'Bearer realm="{quoted(self.realm)}", error="invalid_request", '
            f'error_description="{quoted(self.get_error_description())}"',
        )]


def standard_error(error: OAuth2Error, realm: str) -> OAuth2Error:
    """Authlib's error, or the RFC-exact one where Authlib's answer differs from the RFCs."""
    exchange = context.current()
    if isinstance(error, MissingAuthorizationError | UnsupportedTokenTypeError):
        return BearerTokenMissing(realm)
    if isinstance(error, UnsupportedResponseTypeError):  # RFC 6749 §4.1.2.1
        missing = not exchange.values.get("response_type")
        return OAuth2Error(
            "The request has no response_type: send response_type=code." if missing
            else "Only response_type=code is supported.",
            error="invalid_request" if missing else "unsupported_response_type",
            state=error.state,
            redirect_uri=error.redirect_uri,
        )
    if isinstance(error, UnsupportedGrantTypeError) and not exchange.form.get("grant_type"):  # RFC 6749 §5.2
        return InvalidRequestError("The request has no grant_type.")
    if type(error) is InvalidClientError:
        description = error.get_error_description() or ""
        if description.startswith("The client cannot authenticate with methods") or "does not exist" in description:
            description = CLIENT_AUTHENTICATION_FAILED
        return ClientAuthenticationFailed(realm, error.status_code, description)
    return error


def note_failure(error: OAuth2Error, event_type: str | None = None) -> None:
    """Queue the audit event of a refused protocol request (RFC error code as the reason)."""
    exchange = context.current()
    context.note(
        event_type or f"issuer.{exchange.endpoint or 'request'}",
        "failure",
        details={
            "reason": error.error,
            "client_id": (exchange.values.get("client_id") or "")[:64] or None,
            "grant_type": (exchange.form.get("grant_type") or "")[:64] or None,
        },
    )
