"""The people a fake authorization server signs in, and the default shapes of their profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Person:
    """Someone the server can sign in. `subject` is the immutable id; everything else may change."""

    subject: str
    username: str
    name: str
    email: str
    email_verified: bool = True
    state: str = "active"
    """`active`, or a state a provider must refuse (`blocked`); shown in the default OAuth profile."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Extra ID-token and profile claims (`groups`, `roles`, ...)."""


def default_people() -> list[Person]:
    return [
        Person("1001", "alice", "Alice Example", "alice@example.test"),
        Person("1002", "bob", "Bob Example", "bob@example.test"),
    ]


def openid_profile(person: Person) -> dict[str, Any]:
    """The default OpenID Connect userinfo body."""
    return {"sub": person.subject, "name": person.name, "preferred_username": person.username,
            "email": person.email, "email_verified": person.email_verified, **person.claims}  # fmt: skip


def oauth2_profile(person: Person) -> dict[str, Any]:
    """The default plain OAuth 2.0 profile body (GitLab-like: `id`, `username`, `state`)."""
    return {"id": person.subject, "username": person.username, "name": person.name, "email": person.email,
            "email_verified": person.email_verified, "state": person.state, **person.claims}  # fmt: skip


__all__ = ["Person", "default_people", "oauth2_profile", "openid_profile"]
