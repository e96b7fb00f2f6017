"""Errors a person can act on: each has a stable code, an HTTP status and a readable message.

One error handler (hub.web.views.errors) turns them into pages and JSON. The code is what goes
into audit events and API responses; the message is what a person reads. Neither may ever
contain a token, code, verifier or secret.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub shows to a person."""

    code: str = "hub_error"
    status: int = 500
    title: str = "Something went wrong"
    hint: str = "Try again. If it keeps happening, tell your administrator."
    audited: bool = False
    """Set by the code that wrote this failure's audit event, so no handler writes another."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        provider_code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if hint is not None:
            self.hint = hint
        if status is not None:
            self.status = status
        self.provider_code = provider_code
        """A code the provider gave (for example `AADSTS50011`), shown to help support."""

    def __str__(self) -> str:
        return self.message


class ConfigError(HubError):
    """A setting is missing or malformed; the message names the setting and what is expected."""

    code = "config_error"
    title = "The hub is not configured correctly"
    hint = "An administrator must fix the configuration named above."


class PluginError(HubError):
    """A plugin could not be loaded or broke the plugin contract."""

    code = "plugin_error"


# --- sign-in -------------------------------------------------------------------------------


class SignInError(HubError):
    """A sign-in or link attempt failed; nothing was written and no session was created.

    A provider that refuses someone it has identified (a blocked or suspended account) passes
    `subject`, the immutable subject it would have signed in: the audit event then names the
    refused account (`details.provider_subject`) so an administrator can find it. It is never
    shown to the person.
    """

    code = "signin_failed"
    status = 400
    title = "Sign-in failed"
    hint = "Go back to the sign-in page and try again."

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        provider_code: str | None = None,
        status: int | None = None,
        subject: str | None = None,
    ) -> None:
        super().__init__(message, code=code, hint=hint, provider_code=provider_code, status=status)
        self.subject = subject
        """The provider's subject of the refused account, for the audit event; None if unknown."""


class SignInExpired(SignInError):
    """The pending sign-in is unknown, already used, expired or belongs to another provider."""

    code = "signin_expired"
    title = "This sign-in link has expired"
    hint = "Sign-in links work once and for ten minutes. Start again from the sign-in page."


class ProviderDenied(SignInError):
    """The provider answered the authorization request with an error (`error=` in the query)."""

    code = "provider_denied"
    title = "The identity provider did not sign you in"


class TokenRejected(SignInError):
    """The provider's answer failed validation (signature, issuer, audience, nonce, subject)."""

    code = "token_rejected"
    title = "The identity provider's answer could not be trusted"
    hint = "Start the sign-in again. If it keeps failing, the provider or the hub's clock may be misconfigured."


class AccessDenied(SignInError):
    """A policy (tenant allow-list, a plugin's policy hook, a disabled user) refused entry."""

    code = "access_denied"
    status = 403
    title = "You may not sign in here"
    hint = "Ask your administrator for access."


class ProviderUnavailable(HubError):
    """The provider did not answer in time or answered with a server error."""

    code = "provider_unavailable"
    status = 503
    title = "The identity provider is not answering"
    hint = "Wait a minute and try again."


class ProviderMisconfigured(HubError):
    """The provider rejected the hub's own credentials (for example an expired client secret)."""

    code = "provider_misconfigured"
    status = 503
    title = "The hub's connection to the identity provider is misconfigured"
    hint = "Tell your administrator: the client secret or certificate may be wrong or expired."


# --- tokens ----------------------------------------------------------------------------------


class RefreshRejected(HubError):
    """The provider refused the refresh token (`invalid_grant`); the user must sign in again."""

    code = "reauth_required"
    status = 409
    title = "The account must be signed in again"
    hint = "Ask the user to sign in again with this provider."


# --- web -------------------------------------------------------------------------------------


class CsrfError(HubError):
    code = "csrf_failed"
    status = 400
    title = "This form has expired"
    hint = "Go back, reload the page and submit the form again."


class NotSignedIn(HubError):
    code = "not_signed_in"
    status = 401
    title = "Please sign in"
    hint = "Sign in and try again."


class Forbidden(HubError):
    code = "forbidden"
    status = 403
    title = "You do not have access to this page"
    hint = "Ask an administrator if you need access."


class NotFound(HubError):
    code = "not_found"
    status = 404
    title = "Not found"
    hint = "Check the address, or go back to the start page."
