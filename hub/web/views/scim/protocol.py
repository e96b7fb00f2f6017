"""The SCIM endpoint's protocol: its blueprint, bearer-token check, bodies, query integers, PATCH errors and RFC 7644 errors.

Thin Flask glue: scim2-models parses and validates bodies and renders resources, the semantics
live in hub.actions.provisioning. Every error is RFC 7644 §3.12 JSON; a bad token is 401, a
malformed body 400, an oversized one 413, a database failure 503 (nothing changed: retry); each token has its own rate limit (`ratelimit_scim`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, request
from pydantic import ValidationError
from scim2_models import Error, ResponseParameters
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from hub.actions.audited import Actor, record_refusal
from hub.actions.provisioning import Directory
from hub.core import scim_tokens
from hub.core.db import write_transaction
from hub.core.errors import ConfigError, HubError
from hub.core.scim_errors import ScimError
from hub.runtime import revoke_upstream
from hub.web import ratelimit
from hub.web.request import audit_context, bearer_token, runtime

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/scim+json"
MAX_BODY = 256 * 1024
"""A SCIM request's body (a user, a group's membership change); a whole group's replace of
10,000 members fits. Larger bodies are refused with 413 before they are parsed."""


def _token_key() -> str:
    """Each token its own bucket (by its public prefix); a request without one by address."""
    prefix = scim_tokens.prefix_of(bearer_token())
    return f"scim-token:{prefix[:32]}" if prefix else f"scim-addr:{ratelimit.client_address()}"


bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<provider_id>")
ratelimit.limit("scim", key=_token_key)(bp)


def scim_response(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    if location:
        response.headers["Location"] = location
    return response


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    g.no_store = True
    return scim_response(Error(status=status, scim_type=scim_type, detail=detail[:300]).model_dump(), status)


def body() -> dict[str, Any]:
    """The request's JSON object; 413 past MAX_BODY, 400 for anything but a JSON object."""
    if (request.content_length or 0) > MAX_BODY:
        raise ScimError(f"The request body is over {MAX_BODY} bytes.", status=413, scim_type=None)
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise ScimError(f"The request body is over {MAX_BODY} bytes.", status=413, scim_type=None)
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ScimError("The request body is not JSON.", scim_type="invalidSyntax") from None
    if not isinstance(value, dict):
        raise ScimError("The request body must be a JSON object.", scim_type="invalidSyntax")
    return value


def parsed(model: Any, data: dict[str, Any], context: Any) -> Any:
    """A scim2-models validation; its complaint becomes a 400 invalidValue."""
    try:
        return model.model_validate(data, scim_ctx=context)
    except ValidationError as error:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ScimError(f"The body is not a valid SCIM resource ({where}: {first.get('msg', 'invalid')}).") from None
    except (ValueError, TypeError) as error:
        raise ScimError(f"The body is not a valid SCIM resource: {str(error)[:200]}") from None


def int_arg(name: str, default: int | None) -> int | None:
    """A query parameter as an integer (startIndex, count); 400 invalidValue when it is not one."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        return int(text[:12])
    except ValueError:
        raise ScimError(f"{name} must be an integer.", scim_type="invalidValue") from None


def response_parameters() -> ResponseParameters | None:
    """`attributes` or `excludedAttributes` of the query (RFC 7644 §3.4.2.5; Entra asks for
    groups with `excludedAttributes=members`), parsed by scim2-models; 400 when malformed."""
    wanted = {name: request.args[name][:1024] for name in ("attributes", "excludedAttributes") if name in request.args}
    if not wanted:
        return None
    try:
        return ResponseParameters.model_validate(wanted)
    except ValidationError as error:
        first = error.errors()[0] if error.errors() else {}
        raise ScimError(f"attributes / excludedAttributes: {first.get('msg', 'invalid')}", scim_type="invalidValue") from None


def patch_applied(patch: Any) -> Callable[[Any], None]:
    """Applies a parsed PatchOp to a resource in place; a bad operation is a 400 with the
    error's scimType (invalidValue when it names none), for /Users and /Groups alike."""

    def apply(resource: Any) -> None:
        try:
            patch.patch(resource)
        except Exception as error:  # scim2-models raises its own exceptions and pydantic's on a bad operation
            scim_type = getattr(error, "scim_type", None) or "invalidValue"
            raise ScimError(f"The PATCH cannot be applied: {str(error)[:200]}", scim_type=str(scim_type)) from None

    return apply


def directory(provider_id: str) -> Directory:
    """The authenticated directory of this request (the token was checked by `authenticated`)."""
    return g.scim_directory


def authenticated(view: Callable[..., Response]) -> Callable[..., Response]:
    """Check the bearer token against this provider's tokens, note its use, build the Directory."""

    @wraps(view)
    def checked(provider_id: str, *args: Any, **kwargs: Any) -> Response:
        rt = runtime()
        presented = bearer_token()
        provider = rt.registry.get(provider_id)
        with rt.db.connection() as connection:
            token = scim_tokens.authenticate(connection, provider_id[:64], presented)
        if provider is None:
            raise ScimError(f"Provider {provider_id[:64]!r} is not running on this hub.", status=404, scim_type=None)
        if scim_tokens.use_worth_noting(token):
            with write_transaction(rt.db) as session:
                scim_tokens.note_use(session, token.id)
        name = token.name
        ratelimit.authenticated()
        table = rt.settings.providers.get(provider_id, {})
        roles = table.get("scim_group_roles") or {}
        if not isinstance(roles, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in roles.items()):
            raise ConfigError(f"providers.{provider_id}.scim_group_roles: expected a table of group name = hub role")
        g.scim_directory = Directory(
            provider_id=provider_id, subject_for=provider.subject_for_directory_id, token_name=name,
            group_roles=roles, actor=Actor(None, "scim", audit_context(), directory=provider_id), revoke_upstream=revoke_upstream(rt),
        )
        return view(provider_id, *args, **kwargs)

    return checked


@bp.errorhandler(ScimError)
def _scim_error(error: ScimError) -> Response:
    if request.method != "GET" and g.get("scim_directory") is not None:
        rt, found = runtime(), g.scim_directory
        record_refusal(
            rt.db, rt.audit, "scim.refused", found.actor, error, provider_id=found.provider_id,
            scim_token_name=found.token_name, method=request.method, path=request.path[:200],
        )
    return error_response(error.status, error.message, error.scim_type)


@bp.errorhandler(SQLAlchemyError)
def _database_error(error: SQLAlchemyError) -> Response:
    """The database failed mid-request: the write transaction rolled back whole (the resource and
    the hub user together), so the directory's retry does it all; 503 tells it to retry."""
    log.exception("SCIM %s %s: the database failed", request.method, request.path[:200])
    return _scim_error(ScimError("The hub's database could not complete the request; nothing was changed. Retry it.", status=503, scim_type=None))


@bp.errorhandler(scim_tokens.ScimTokenInvalid)
def _bad_token(error: HubError) -> Response:
    response = error_response(401, error.message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: HTTPException) -> Response:
    return error_response(413, "The request body is too large.")


@bp.errorhandler(HubError)
def _hub_error(error: HubError) -> Response:
    return error_response(error.status if error.status < 500 else 503, error.message)

