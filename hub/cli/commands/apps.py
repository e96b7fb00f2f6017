"""`hub apps create|list|show|rotate-secret|disable|enable|delete`: the applications registry.

Operators' scripts depend on `hub apps create NAME --redirect-uri URI ... --json`, which prints
`{"client_id", "client_secret"}`; keep these names and flags as they are.
"""

from __future__ import annotations

import json

import click

from hub.actions import applications as actions
from hub.actions.applications import Registration
from hub.cli.context import OPERATOR, runtime
from hub.issuer import applications


@click.group("apps")
def apps_group() -> None:
    """Applications that sign people in through the hub (OAuth clients of its OpenID Provider)."""


@apps_group.command("create")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeatable).")
@click.option("--public", is_flag=True, help="A public app (native, SPA): no secret, PKCE required.")
@click.option("--first-party", is_flag=True, help="The organisation's own app: no consent page.")
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Where end-session may send the browser afterwards (repeatable).",
)
@click.option("--backchannel-logout-uri", help="Receives OIDC back-channel logout tokens.")
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    help="The only way a confidential app may authenticate (default: its secret by client_secret_basic or _post).",
)
@click.option("--jwks-uri", help="The app's public keys, for private_key_jwt.")
@click.option(
    "--jwks-file", type=click.File("r"), help="A file with the app's public JWKS, for private_key_jwt."
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(list(applications.GRANT_TYPES)),
    help="Allowed grant types (default: authorization_code and refresh_token).",
)
@click.option(
    "--scopes", help=f"Space-separated scopes it may ask for (default: {' '.join(applications.SCOPES)})."
)
@click.option(
    "--id-token-alg", type=click.Choice(list(applications.SIGNING_ALGS)), default="RS256", show_default=True
)
@click.option("--pairwise", is_flag=True, help="Give this app a pairwise `sub` (unlinkable across apps).")
@click.option("--json", "as_json", is_flag=True, help='Print {"client_id", "client_secret"} as JSON.')
def create_command(
    name: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    first_party: bool,
    post_logout_redirect_uris: tuple[str, ...],
    backchannel_logout_uri: str | None,
    auth_method: str | None,
    jwks_uri: str | None,
    jwks_file: click.utils.LazyFile | None,
    grant_types: tuple[str, ...],
    scopes: str | None,
    id_token_alg: str,
    pairwise: bool,
    as_json: bool,
) -> None:
    """Register application NAME. The client secret is printed once and never again."""
    rt = runtime()
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.load(jwks_file)
        except ValueError as exc:
            raise click.UsageError(f"--jwks-file is not JSON: {exc}") from None
    form = Registration(
        name,
        list(redirect_uris),
        public=public,
        first_party=first_party,
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        backchannel_logout_uri=backchannel_logout_uri,
        auth_method=auth_method,
        grant_types=list(grant_types) or None,
        scopes=scopes,
        signing_alg=id_token_alg,
        pairwise_subject=pairwise,
        jwks=jwks,
        jwks_uri=jwks_uri,
    )
    created = actions.register(rt.db, rt.audit, OPERATOR, form)
    app = created.application
    if as_json:
        click.echo(json.dumps({"client_id": app.client_id, "client_secret": created.client_secret}))
        return
    click.echo(f"application {app.name!r} registered", err=True)
    click.echo(f"client_id: {app.client_id}")
    if created.client_secret:
        click.echo(f"client_secret: {created.client_secret}")
        click.echo("store the client secret now: it is not shown again", err=True)


@apps_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """List applications (never their secrets)."""
    rt = runtime()
    with rt.db.session() as session:
        described = [applications.describe(app) for app in applications.list_all(session)]
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for app in described:
        kind = "public" if app["public"] else "confidential"
        state = "disabled" if app["disabled_at"] else "enabled"
        click.echo(
            f"{app['client_id']}\t{app['name']}\t{kind}\t{state}\tlast used {app['last_used_at'] or 'never'}"
        )


@apps_group.command("show")
@click.argument("client_id")
def show_command(client_id: str) -> None:
    """Show one application's settings as JSON (never its secret)."""
    rt = runtime()
    with rt.db.session() as session:
        click.echo(json.dumps(applications.describe(applications.get(session, client_id)), indent=2))


@apps_group.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help='Print {"client_id", "client_secret"} as JSON.')
def rotate_secret_command(client_id: str, as_json: bool) -> None:
    """Issue a new client secret; the old one stops working at once. Printed once."""
    rt = runtime()
    rotated = actions.rotate_secret(rt.db, rt.audit, OPERATOR, client_id)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": rotated.client_secret}))
    else:
        click.echo(f"client_secret: {rotated.client_secret}")
        click.echo("store the client secret now: it is not shown again", err=True)


@apps_group.command("disable")
@click.argument("client_id")
def disable_command(client_id: str) -> None:
    """Stop an application: sign-ins, tokens and refreshes fail; its refresh tokens are revoked."""
    rt = runtime()
    app = actions.disable(rt.db, rt.audit, OPERATOR, client_id)
    click.echo(f"application {app.name!r} disabled")


@apps_group.command("enable")
@click.argument("client_id")
def enable_command(client_id: str) -> None:
    """Allow a disabled application again (its revoked tokens stay revoked)."""
    rt = runtime()
    app = actions.enable(rt.db, rt.audit, OPERATOR, client_id)
    click.echo(f"application {app.name!r} enabled")


@apps_group.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(client_id: str, yes: bool) -> None:
    """Delete an application with its grants, codes and tokens."""
    rt = runtime()
    if not yes:
        click.confirm(f"Delete application {client_id} and every grant and token it holds?", abort=True)
    app = actions.delete(rt.db, rt.audit, OPERATOR, client_id)
    click.echo(f"application {app.name!r} deleted")
