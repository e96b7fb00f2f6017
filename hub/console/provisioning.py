"""What SCIM reads: provisioned users and groups by id, by filter and by page, and the SCIM tokens.

Filters are parsed by scim2-filter-parser; only the equality matches a directory sends to find
a resource (`userName eq`, `externalId eq`; `displayName eq` for groups) are accepted, anything
else is refused as invalidFilter, so a filter never reaches SQL as text.
"""

from __future__ import annotations

from collections.abc import Sequence

from scim2_filter_parser.ast import AttrExpr, Filter
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.models import ProvisionedGroup, ProvisionedUser, ScimToken
from hub.core.scim_errors import ScimError

MAX_FILTER = 512
MAX_COUNT = 200
USER_FILTERS = {"username": ProvisionedUser.user_name, "externalid": ProvisionedUser.external_id}
GROUP_FILTERS = {"displayname": ProvisionedGroup.display_name, "externalid": ProvisionedGroup.external_id}


def _invalid(why: str) -> ScimError:
    return ScimError(f"Unsupported filter: {why}. Filter by `userName eq \"...\"` or `externalId eq \"...\"`.", scim_type="invalidFilter")


def parse_filter(text: str, allowed: dict) -> tuple:
    """(column, value) for `attr eq "value"`; raises ScimError(invalidFilter) for anything else."""
    if len(text) > MAX_FILTER:
        raise _invalid("too long")
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception:  # the parser raises several types for bad input; every one is a bad filter
        raise _invalid("it does not parse") from None
    if not isinstance(tree, Filter) or tree.negated or not isinstance(tree.expr, AttrExpr):
        raise _invalid("only one comparison is supported")
    expr = tree.expr
    path = expr.attr_path
    column = allowed.get(str(path.attr_name).lower()) if path.sub_attr is None and not path.uri else None
    if column is None or str(expr.value).lower() != "eq" or not isinstance(expr.comp_value.value, str):
        raise _invalid("only equality on userName, externalId (displayName for groups) with a string")
    return column, expr.comp_value.value


def page(start_index: int, count: int | None) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4 paging: a 1-based start, a count clipped to [0, MAX_COUNT]."""
    return max(1, start_index), MAX_COUNT if count is None else max(0, min(count, MAX_COUNT))


def users(session: Session, provider_id: str, filter_text: str | None, start: int, count: int) -> tuple[int, Sequence[ProvisionedUser]]:
    query = select(ProvisionedUser).where(ProvisionedUser.provider_id == provider_id)
    if filter_text:
        column, value = parse_filter(filter_text, USER_FILTERS)
        query = query.where(func.lower(column) == value.lower()) if column is ProvisionedUser.user_name else query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ProvisionedUser.created_at, ProvisionedUser.id).offset(start - 1).limit(count)).all()
    return total, rows


def groups(session: Session, provider_id: str, filter_text: str | None, start: int, count: int) -> tuple[int, Sequence[ProvisionedGroup]]:
    query = select(ProvisionedGroup).where(ProvisionedGroup.provider_id == provider_id)
    if filter_text:
        column, value = parse_filter(filter_text, GROUP_FILTERS)
        query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ProvisionedGroup.created_at, ProvisionedGroup.id).offset(start - 1).limit(count)).all()
    return total, rows


def tokens(session: Session) -> Sequence[ScimToken]:
    """Every SCIM token (never a secret), newest first, for the console and `hub scim list`."""
    return session.scalars(select(ScimToken).order_by(ScimToken.id.desc())).all()


def scim_url(base_url: str, provider_id: str) -> str:
    """The SCIM base URL of a provider: what an admin pastes into Entra's "Tenant URL"."""
    return f"{base_url.rstrip('/')}/scim/v2/{provider_id}"


def provisioned_as(session: Session, user_id: int) -> Sequence[ProvisionedUser]:
    """The directories' resources that provision this user (one per provider that pushes them):
    the console's "managed by provisioning" on the user's page."""
    return session.scalars(
        select(ProvisionedUser).where(ProvisionedUser.user_id == user_id).order_by(ProvisionedUser.provider_id)
    ).all()


def disabled_by_text(disabled_by: str | None, names: dict[str, str]) -> str | None:
    """Who disabled a user, in words: users.disabled_by is "admin" or "provisioning:<provider>"."""
    if not disabled_by:
        return None
    if disabled_by.startswith("provisioning:"):
        provider_id = disabled_by.split(":", 1)[1]
        return f"{names.get(provider_id, provider_id)}'s directory (SCIM provisioning)"
    return "an administrator"
