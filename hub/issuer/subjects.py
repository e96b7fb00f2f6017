"""The person a token is about: a Subject from a token family or a signed-in browser, its hub
session as an application sees it, and the claims an application learns of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.core.models import Application, TokenFamily, User, WebSession
from hub.issuer import claims, sso
from hub.issuer.context import db
from hub.issuer.models import Subject


def subject_of(user: User, application: Application, family: TokenFamily, *, sid: str | None, secret_key: bytes) -> Subject:
    """The subject of a token issued under `family`, which carries the sign-in's facts. `sid` is
    the hub session's even when an offline family is bound to none (the ID token still names it)."""
    return Subject(
        user=user,
        application=application,
        secret_key=secret_key,
        sid=sid,
        auth_time=family.auth_time,
        provider_id=family.provider_id,
        family=family,
        grant_id=family.grant_id,
        amr=tuple(family.amr),
        acr=family.acr,
    )


def subject_of_session(secret_key: bytes, current: Any, application: Application) -> Subject:
    """The Subject for a signed-in browser authorizing `application`. Its `sid` is given (and
    created) only when the authorization succeeds (`join_session`)."""
    row: WebSession = current.row
    return Subject(
        user=current.user,
        application=application,
        secret_key=secret_key,
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


def session_as_seen_by(
    session: Session, secret_key: bytes, current: Any, application: Application
) -> tuple[str, str | None]:
    """The `sub` and `sid` that `application` sees for this browser's hub session, as its ID
    tokens carry them (the sid as `join_session` returns it); the sid is None while no
    application has used the session. Reads only: for comparing an end-session hint."""
    subject = subject_of_session(secret_key, current, application)
    subject.sid = sso.sid_of(session, current.row.id_hash)
    return subject.get_user_id(), subject.application_sid


def identity_claims(hook: Any, subject: Subject, scopes: list[str]) -> dict[str, Any]:
    """`sub` and the claims the scopes allow, after the `hub_token_claims` plugins (`hook`)."""
    person = claims.user_view(db(), subject.user, subject.provider_id)
    found = claims.scoped_claims(person, scopes)
    found = claims.apply_plugins(hook, claims.application_view(subject.application), person, scopes, found)
    found["sub"] = subject.get_user_id()
    return found
