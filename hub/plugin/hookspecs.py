"""The plugin contract: every hook a plugin may implement, each documented here.

Plugins implement these with `from hub import hookimpl`. Arguments are only ever added,
never removed or renamed, so a plugin may accept any subset of them. A plugin module also
declares `hub_api_version = 1` (see hub.HUB_API_VERSION); the hub refuses a plugin built for
another version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub import hookspec

if TYPE_CHECKING:
    import click
    import flask

    from hub.core.audit import AuditRecord
    from hub.issuer.claims import ApplicationView, UserView
    from hub.upstream.provider import Identity, Profile, ProviderType

# --- providers -------------------------------------------------------------------------------


@hookspec
def hub_provider_types() -> list[type[ProviderType]]:
    """Register provider types.

    :returns: a list of `hub.upstream.provider.ProviderType` subclasses. Each class's `type_name` is
        the value a provider's configuration names in `type`. Two plugins offering the same
        type name is a configuration error that names both.
    """


@hookspec
def hub_default_providers(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Offer providers configured from conventional environment variables.

    Called only when no configured provider names a `type`, so that a tutorial's `.env`
    (for example `TENANT_ID`, `CLIENT_ID`, `CLIENT_SECRET`, `REDIRECT_URI`) works without a
    hub.toml. Configured tables without a type (such as `HUB_PROVIDERS__<ID>__<SETTING>`
    variables) are laid over the offered provider of the same id.

    :param environ: the process environment merged with the `.env` file.
    :returns: provider settings dicts, each with at least `id` and `type`, in the same shape
        as a `[providers.<id>]` table of hub.toml.
    """


# --- sign-in policy --------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_signin_policy(
    provider_id: str, identity: Identity, profile: Profile, intent: str
) -> str | None:
    """Decide whether a validated identity may sign in or be linked.

    Stops at the first non-None result.

    :param provider_id: the configured provider's id.
    :param identity: the validated identity (subject, issuer, tenant, roles).
    :param profile: display data from the provider; never a safe key for decisions about
        *who* someone is, but fine for decisions such as "only @contoso.com staff".
    :param intent: `signin` or `link`.
    :returns: None to allow, or a reason (shown to the person and audited) to refuse.
    """


# --- audit -----------------------------------------------------------------------------------


@hookspec
def hub_audit_event(event: AuditRecord) -> None:
    """Observe an audit event after it has been committed, for example to ship it to a SIEM.

    Called once per event, after the transaction that wrote it committed. Exceptions are
    logged and swallowed: an observer can never break a sign-in.

    :param event: the committed event; its details never contain secrets. Its `seq` is None
        when the hub writes events to the audit outbox (`audit_chaining`, PostgreSQL's default):
        the chainer gives it a seq later, off the request path.
    """


# --- web routes ------------------------------------------------------------------------------


@hookspec
def hub_register_routes() -> flask.Blueprint | None:
    """Contribute web pages or endpoints: a Flask blueprint the hub mounts under
    `/plugins/<plugin name>/` (the entry point's name).

    The mounted routes get what the hub's own pages get: a rate limit per plugin and client
    address (`ratelimit_plugins`), the CSRF check on every POST, PUT,
    PATCH and DELETE (mark a server-to-server view with `hub.web.plugin_routes.server_to_server` and
    authenticate the caller yourself), the security headers, the error pages and JSON errors
    for `hub.core.errors` exceptions (a refused change is audited), and the signed-in person's
    session. `hub.web.plugin_routes` has the helpers a view needs (`login_required`, `admin_required`,
    `current_user_id`, `render`, `record_event`, `audit_context`).

    :returns: one `flask.Blueprint` (nest others in it with `register_blueprint`), or None.
        Its own `url_prefix` is ignored: the prefix is the plugin's.
    """


# --- the issuer side (the hub as OpenID Provider) ----------------------------------------------


@hookspec
def hub_token_claims(
    application: ApplicationView, user: UserView, scopes: list[str], claims: dict[str, Any]
) -> dict[str, Any] | None:
    """Add or change the claims of ID tokens and userinfo answers the hub gives an application.

    Called for every ID token and every userinfo response, after the hub computed the claims the
    granted scopes allow. Every implementation sees the hub's claims (a copy); results are applied
    in plugin order. Protected claims (`iss sub aud exp iat nbf auth_time nonce sid azp at_hash
    c_hash jti client_id scope idp`) keep the hub's values: returning one logs a warning.

    :param application: the application (`client_id`, `name`, `first_party`).
    :param user: the person (`id`, `display_name`, `email`, `email_verified`, `roles`,
        `provider_id`). Never treat `email` as identity.
    :param scopes: the scopes granted for this token.
    :param claims: the claims computed so far.
    :returns: None, or a dict of claims to add or replace; a claim mapped to None is removed.
    """


# --- command line ----------------------------------------------------------------------------


@hookspec
def hub_cli_commands(cli: click.Group) -> None:
    """Add commands or groups to the `hub` command line.

    :param cli: the root `hub` click group; call `cli.add_command(...)`.
    """
