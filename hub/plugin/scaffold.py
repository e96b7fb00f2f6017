"""`hub plugin new`: a complete, installable provider plugin package, written from templates.

The package is what docs/plugins.md describes, already wired: a pyproject with the
`identity_hub` entry point, a provider class on `hub.oidc.OAuth2Provider` or
`OpenIdConnectProvider`, settings validated at start without echoing secrets, the conformance
kit and an end-to-end sign-in through a real hub, both against
`hub.testing.authserver.FakeAuthorizationServer`, and a README. Its tests pass as generated
(tests/e2e/test_plugin_new.py installs one into a fresh venv and runs them); the author then
changes the endpoints and the profile mapping to their provider's.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from hub.errors import HubError

NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
KINDS = ("oauth2", "oidc")


class ScaffoldError(HubError):
    """The plugin cannot be written (a bad name, or the folder exists)."""

    code = "scaffold_error"
    status = 400


@dataclass(frozen=True)
class Names:
    type_name: str
    """The provider type and entry-point name (`gitlab`)."""
    module: str
    """The import package (`hub_gitlab`)."""
    distribution: str
    """The distribution (`hub-provider-gitlab`)."""
    cls: str
    """The provider class (`GitlabProvider`)."""
    label: str
    """How messages name the provider (`Gitlab`)."""


def names_for(name: str) -> Names:
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lower-case letters, digits and '_', starting with a letter "
            f"(it becomes the provider type, the entry point and the module hub_{name})"
        )
    camel = "".join(part.capitalize() for part in name.split("_"))
    return Names(name, f"hub_{name}", f"hub-provider-{name.replace('_', '-')}", f"{camel}Provider", camel)


def write_plugin(name: str, parent: Path, kind: str = "oauth2") -> Path:
    """Write the package into `parent/<distribution>`; returns its folder."""
    if kind not in KINDS:
        raise ScaffoldError(f"plugin kind {kind!r}: expected one of {KINDS}")
    names = names_for(name)
    root = parent / names.distribution
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or folder")
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README_OAUTH2 if kind == "oauth2" else README_OIDC,
        f"{names.module}/__init__.py": INIT,
        f"{names.module}/py.typed": "",
        f"{names.module}/settings.py": SETTINGS_OAUTH2 if kind == "oauth2" else SETTINGS_OIDC,
        f"{names.module}/provider.py": PROVIDER_OAUTH2 if kind == "oauth2" else PROVIDER_OIDC,
        f"{names.module}/testing.py": TESTING_OAUTH2 if kind == "oauth2" else TESTING_OIDC,
        "tests/conftest.py": CONFTEST,
        f"tests/test_{names.type_name}_conformance.py": CONFORMANCE_TEST,
        f"tests/test_{names.type_name}_end_to_end.py": END_TO_END_TEST,
        f"tests/test_{names.type_name}_settings.py": SETTINGS_TEST_OAUTH2 if kind == "oauth2" else SETTINGS_TEST_OIDC,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template, names), encoding="utf-8")
    return root


def render(template: str, names: Names) -> str:
    text = template
    for key, value in (
        ("TYPE_NAME", names.type_name),
        ("MODULE", names.module),
        ("DISTRIBUTION", names.distribution),
        ("CLASS", names.cls),
        ("LABEL", names.label),
    ):
        text = text.replace(f"@{key}@", value)
    return text.lstrip("\n")


# --- templates: @NAME@ placeholders, nothing else is substituted --------------------------------

PYPROJECT = '''
[project]
name = "@DISTRIBUTION@"
version = "0.1.0"
description = "@LABEL@ sign-in for Identity Hub"
requires-python = ">=3.11"
dependencies = ["identity-hub"]

[project.optional-dependencies]
test = ["identity-hub[testing]"]

[project.entry-points.identity_hub]
@TYPE_NAME@ = "@MODULE@"

[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["@MODULE@"]

[tool.pytest.ini_options]
addopts = ["--import-mode=importlib"]
testpaths = ["tests"]
'''

INIT = '''
"""@LABEL@ sign-in for Identity Hub: the `@TYPE_NAME@` provider type."""

from __future__ import annotations

from hub import hookimpl
from hub.provider import ProviderType

from @MODULE@.provider import @CLASS@

hub_api_version = 1
"""The plugin API this plugin was written for; the hub refuses a plugin built for another."""


@hookimpl
def hub_provider_types() -> list[type[ProviderType]]:
    return [@CLASS@]


__all__ = ["@CLASS@", "hub_api_version", "hub_provider_types"]
'''

SETTINGS_OAUTH2 = '''
"""The `@TYPE_NAME@` provider's settings, checked once when the hub starts.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected, and never
repeats a value that could be a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.oidc.settings import base_url_setting, check_known_keys, scopes_setting, text_setting
from hub.provider import CORE_SETTINGS

DEFAULT_SCOPES = ("read_user",)
KNOWN_KEYS = frozenset({
    "client_id", "client_secret", "scopes",
    "authorization_endpoint", "token_endpoint", "profile_endpoint", "revocation_endpoint",
}) | CORE_SETTINGS  # fmt: skip


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str = field(repr=False)
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    profile_endpoint: str = ""
    revocation_endpoint: str | None = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> Settings:
    def key(name: str) -> str:
        return f"providers.{provider_id}.{name}"

    check_known_keys(settings, KNOWN_KEYS, provider_id, "@TYPE_NAME@")
    revocation = settings.get("revocation_endpoint")
    return Settings(
        client_id=text_setting(settings.get("client_id"), key("client_id"), "the OAuth application's client id"),
        client_secret=text_setting(settings.get("client_secret"), key("client_secret"), "the OAuth application's secret (from the environment)"),
        authorization_endpoint=base_url_setting(settings.get("authorization_endpoint"), key("authorization_endpoint")),
        token_endpoint=base_url_setting(settings.get("token_endpoint"), key("token_endpoint")),
        profile_endpoint=base_url_setting(settings.get("profile_endpoint"), key("profile_endpoint")),
        revocation_endpoint=base_url_setting(revocation, key("revocation_endpoint")) if revocation is not None else None,
        scopes=scopes_setting(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes"), '["read_user"]'),
    )
'''

SETTINGS_OIDC = '''
"""The `@TYPE_NAME@` provider's settings, checked once when the hub starts.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected, and never
repeats a value that could be a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.oidc.settings import base_url_setting, check_known_keys, scopes_setting, text_setting
from hub.provider import CORE_SETTINGS

DEFAULT_SCOPES = ("openid", "profile", "email")
KNOWN_KEYS = frozenset({"issuer", "client_id", "client_secret", "scopes"}) | CORE_SETTINGS


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> Settings:
    def key(name: str) -> str:
        return f"providers.{provider_id}.{name}"

    check_known_keys(settings, KNOWN_KEYS, provider_id, "@TYPE_NAME@")
    return Settings(
        issuer=base_url_setting(settings.get("issuer"), key("issuer")),
        client_id=text_setting(settings.get("client_id"), key("client_id"), "the client id registered at the provider"),
        client_secret=text_setting(settings.get("client_secret"), key("client_secret"), "the client secret (from the environment)"),
        scopes=scopes_setting(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes"), '["openid", "profile", "email"]', required=("openid",)),
    )
'''

PROVIDER_OAUTH2 = '''
"""The `@TYPE_NAME@` provider type: plain OAuth 2.0 (authorization code with PKCE) and a profile
endpoint, on hub.oidc.OAuth2Provider.

Adapt `identity_from_profile` and `profile_from` to the fields your provider's profile answer
has. The subject must be its immutable id (never a username or an email), as a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hub.errors import AccessDenied
from hub.oidc import OAuth2Provider, subject_from
from hub.provider import Identity, Profile

from @MODULE@.settings import Settings, parse_settings

ACTIVE_STATES = frozenset({"active"})
"""Account states the provider reports that may sign in; any other (blocked, ...) is refused."""


class @CLASS@(OAuth2Provider):
    type_name: ClassVar[str] = "@TYPE_NAME@"
    label: ClassVar[str | None] = "@LABEL@"
    config: Settings

    def load_settings(self, settings: Mapping[str, Any]) -> Settings:
        return parse_settings(self.id, settings)

    def authorization_endpoint(self) -> str:
        return self.config.authorization_endpoint

    def token_endpoint(self) -> str:
        return self.config.token_endpoint

    def profile_endpoint(self) -> str:
        return self.config.profile_endpoint

    def revocation_endpoint(self) -> str | None:
        return self.config.revocation_endpoint

    def identity_from_profile(self, profile: Any) -> Identity:
        if not isinstance(profile, dict):
            return Identity(subject=subject_from(None, self.provider_label), issuer=self.config.authorization_endpoint)
        subject = subject_from(profile.get("id"), self.provider_label)
        state = profile.get("state", "active")
        if state not in ACTIVE_STATES:
            raise AccessDenied(
                f"Your {self.provider_label} account is {str(state)[:20]}, so it cannot sign in here.",
                code="account_blocked",
                subject=subject,
            )
        return Identity(subject=subject, issuer=self.config.authorization_endpoint)

    def profile_from(self, profile: Any, access_token: str) -> Profile:
        def text(name: str) -> str | None:
            value = profile.get(name)
            return value if isinstance(value, str) and value else None

        return Profile(
            display_name=text("name") or text("username"),
            email=text("email"),
            email_verified=profile.get("email_verified") is True,  # only when the provider says so
            username=text("username"),
        )
'''

PROVIDER_OIDC = '''
"""The `@TYPE_NAME@` provider type: OpenID Connect on hub.oidc.OpenIdConnectProvider (discovery,
keys, ID-token validation with nonce, refresh, RFC 9207 `iss`, logout tokens).

Override `roles_from(claims)` to map the provider's groups or roles to hub roles, or `profile`
for claims beyond the standard ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hub.oidc import OpenIdConnectProvider

from @MODULE@.settings import Settings, parse_settings


class @CLASS@(OpenIdConnectProvider):
    type_name: ClassVar[str] = "@TYPE_NAME@"
    label: ClassVar[str | None] = "@LABEL@"
    config: Settings

    def load_settings(self, settings: Mapping[str, Any]) -> Settings:
        return parse_settings(self.id, settings)
'''

TESTING_OAUTH2 = '''
"""The fake @LABEL@ the tests run against: hub.testing's generic OAuth 2.0 server on 127.0.0.1,
with a profile answer shaped like @LABEL@'s. Change `profile` to your provider's real answer.
Imported by tests only (it needs the `testing` extra)."""

from __future__ import annotations

from typing import Any

from hub.testing.authserver import FakeAuthorizationServer, Person


def profile(person: Person) -> dict[str, Any]:
    return {"id": int(person.subject), "username": person.username, "name": person.name, "email": person.email,
            "email_verified": person.email_verified, "state": person.state}  # fmt: skip


def fake_server() -> FakeAuthorizationServer:
    """Not started: use it as a context manager. `slow_seconds` outlasts the kit's read timeout."""
    return FakeAuthorizationServer(openid=False, profile_path="/api/user", profile=profile, slow_seconds=1.2)


def provider_table(server: FakeAuthorizationServer) -> dict[str, Any]:
    return {
        "type": "@TYPE_NAME@",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "authorization_endpoint": server.authorization_endpoint,
        "token_endpoint": server.token_endpoint,
        "profile_endpoint": server.profile_endpoint,
        "revocation_endpoint": server.revocation_endpoint,
    }
'''

TESTING_OIDC = '''
"""The fake @LABEL@ the tests run against: hub.testing's generic OpenID Connect server on
127.0.0.1 (discovery, JWKS, signed ID tokens). Imported by tests only (the `testing` extra)."""

from __future__ import annotations

from typing import Any

from hub.testing.authserver import FakeAuthorizationServer


def fake_server() -> FakeAuthorizationServer:
    """Not started: use it as a context manager. `slow_seconds` outlasts the kit's read timeout."""
    return FakeAuthorizationServer(openid=True, slow_seconds=1.2)


def provider_table(server: FakeAuthorizationServer) -> dict[str, Any]:
    return {"type": "@TYPE_NAME@", "issuer": server.issuer, "client_id": server.client_id, "client_secret": server.client_secret}
'''

CONFTEST = '''
"""One fake server per test, from @MODULE@.testing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from @MODULE@.testing import fake_server
from hub.testing.authserver import FakeAuthorizationServer


@pytest.fixture
def server() -> Iterator[FakeAuthorizationServer]:
    with fake_server() as fake:
        yield fake
'''

CONFORMANCE_TEST = '''
"""The hub's provider conformance kit, every check enabled, against the fake server."""

from __future__ import annotations

from typing import Any

import pytest

import @MODULE@
from hub.testing.authserver import FakeAuthorizationServer
from hub.testing.conformance import FakeServerAdapter, ProviderConformance

from @MODULE@.testing import provider_table


class Adapter(FakeServerAdapter):
    plugin, plugin_name = @MODULE@, "@TYPE_NAME@"

    def __init__(self, server: FakeAuthorizationServer) -> None:
        super().__init__(server)
        # An OpenID Connect plugin reads the ID token only: no profile request to break.
        self.fetches_profile = not server.openid

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return provider_table(self.server)

    def refuse_account(self, user: str) -> bool:
        # OpenID Connect has no standard claim for a blocked account.
        return not self.server.openid and super().refuse_account(user)


class Test@CLASS@Conformance(ProviderConformance):
    @pytest.fixture
    def adapter(self, server: FakeAuthorizationServer) -> Adapter:
        return Adapter(server)
'''

END_TO_END_TEST = '''
"""A whole sign-in through a real hub (hub.testing.app) and the fake server: the button, the
redirect, the callback, the account page, the linked account and its audit events."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import @MODULE@
from hub.core.models import AuditEvent, LinkedAccount
from hub.testing.app import callback_path, hub_app, start_sign_in
from hub.testing.authserver import FakeAuthorizationServer

from @MODULE@.testing import provider_table


@pytest.fixture
def hub(server: FakeAuthorizationServer, tmp_path: Path):
    app = hub_app(tmp_path / "hub", {"@TYPE_NAME@": {**provider_table(server), "name": "@LABEL@"}}, [("@TYPE_NAME@", @MODULE@)])
    yield app
    app.extensions["hub"].close()


def sign_in(hub, server: FakeAuthorizationServer, user: str):
    browser = hub.test_client()
    params = server.approve(start_sign_in(browser, "@TYPE_NAME@"), user)
    return browser, browser.get(callback_path("@TYPE_NAME@", params))


def test_the_sign_in_page_shows_the_button(hub):
    assert "Sign in with @LABEL@" in hub.test_client().get("/login").get_data(as_text=True)


def test_a_person_signs_in_and_comes_back_to_the_same_account(hub, server):
    browser, landed = sign_in(hub, server, "alice")
    assert landed.status_code == 302
    page = browser.get(landed.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert server.person("alice").name in page
    sign_in(hub, server, "alice")
    sign_in(hub, server, "bob")
    with hub.extensions["hub"].db.session() as session:
        accounts = session.scalars(select(LinkedAccount).order_by(LinkedAccount.id)).all()
        events = session.scalars(select(AuditEvent).where(AuditEvent.type == "signin").order_by(AuditEvent.seq)).all()
    assert [a.subject for a in accounts] == [server.person("alice").subject, server.person("bob").subject]
    assert [(e.outcome, e.details["first_sign_in"]) for e in events] == [("success", True), ("success", False), ("success", True)]


def test_a_refused_sign_in_changes_nothing_and_is_audited(hub, server):
    server.deny_next()
    _, refused = sign_in(hub, server, "alice")
    assert refused.status_code == 400
    with hub.extensions["hub"].db.session() as session:
        assert session.scalars(select(LinkedAccount)).all() == []
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.type == "signin")).all()
    assert event.outcome == "failure" and event.details["reason"] == "provider_denied"
'''

SETTINGS_TEST_OAUTH2 = '''
"""Settings are checked when the hub starts: a clear error naming the setting, never a secret."""

from __future__ import annotations

import pytest

from @MODULE@.settings import parse_settings
from hub.errors import ConfigError

GOOD = {
    "client_id": "app-id",
    "client_secret": "a-very-secret-value",
    "authorization_endpoint": "https://idp.example.com/oauth/authorize",
    "token_endpoint": "https://idp.example.com/oauth/token",
    "profile_endpoint": "https://idp.example.com/api/user",
}


def test_good_settings_parse():
    settings = parse_settings("p", GOOD)
    assert settings.client_id == "app-id" and settings.revocation_endpoint is None
    assert "a-very-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"client_id": ""}, "providers.p.client_id"),
        ({"token_endpoint": "http://idp.example.com/token"}, "providers.p.token_endpoint"),
        ({"scopes": [""]}, "providers.p.scopes"),
        ({"tenant": "x"}, "providers.p.tenant"),
    ],
)
def test_bad_settings_name_the_setting_and_never_the_secret(change, named):
    with pytest.raises(ConfigError, match=named) as caught:
        parse_settings("p", {**GOOD, **change})
    assert "a-very-secret-value" not in str(caught.value)
'''

SETTINGS_TEST_OIDC = '''
"""Settings are checked when the hub starts: a clear error naming the setting, never a secret."""

from __future__ import annotations

import pytest

from @MODULE@.settings import parse_settings
from hub.errors import ConfigError

GOOD = {"issuer": "https://idp.example.com", "client_id": "app-id", "client_secret": "a-very-secret-value"}


def test_good_settings_parse():
    settings = parse_settings("p", GOOD)
    assert settings.scopes == ("openid", "profile", "email")
    assert "a-very-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"client_id": ""}, "providers.p.client_id"),
        ({"issuer": "http://idp.example.com"}, "providers.p.issuer"),
        ({"scopes": ["profile"]}, "providers.p.scopes"),
        ({"tenant": "x"}, "providers.p.tenant"),
    ],
)
def test_bad_settings_name_the_setting_and_never_the_secret(change, named):
    with pytest.raises(ConfigError, match=named) as caught:
        parse_settings("p", {**GOOD, **change})
    assert "a-very-secret-value" not in str(caught.value)
'''

_INSTALL = """
## Install

In the hub's own uv project, add the plugin so that `uv sync` keeps it:

```
uv add --editable ./@DISTRIBUTION@      # recorded in pyproject.toml: uv sync keeps it
```

(`uv pip install -e ./@DISTRIBUTION@` installs it too, but the next `uv sync` removes what the
lock file does not list. In the hub's repository, a plugin is a workspace member instead:
`providers/@TYPE_NAME@/`, listed in the root pyproject's dev group and `[tool.uv.sources]`.)
With pip: `pip install ./@DISTRIBUTION@`. Then `hub providers` lists it.

## Test

With the plugin installed next to the hub with its `test` extra (`uv add --editable
'./@DISTRIBUTION@[test]'`, or `pip install -e './@DISTRIBUTION@[test]'`), run its tests from its folder:

```
cd @DISTRIBUTION@ && python -m pytest          # uv project: uv run python -m pytest
```

The tests run the hub's conformance kit (`tests/test_@TYPE_NAME@_conformance.py`) and a whole
sign-in through a real hub (`tests/test_@TYPE_NAME@_end_to_end.py`), both against
`hub.testing.authserver.FakeAuthorizationServer` on 127.0.0.1: no fake of your own to write.
"""

README_OAUTH2 = (
    """
# @DISTRIBUTION@

@LABEL@ sign-in for Identity Hub: the `@TYPE_NAME@` provider type (plain OAuth 2.0 with PKCE and
a profile endpoint), written by `hub plugin new @TYPE_NAME@ --oauth2`.

## Configure

```toml
[providers.@TYPE_NAME@]
type = "@TYPE_NAME@"
name = "@LABEL@"
client_id = "..."
authorization_endpoint = "https://idp.example.com/oauth/authorize"
token_endpoint = "https://idp.example.com/oauth/token"
profile_endpoint = "https://idp.example.com/api/user"
revocation_endpoint = "https://idp.example.com/oauth/revoke"   # optional
scopes = ["read_user"]
# client_secret: HUB_PROVIDERS__@TYPE_NAME@__CLIENT_SECRET in the environment, not here
```

## Make it yours

1. `@MODULE@/provider.py`: `identity_from_profile` must use the provider's **immutable id** as
   the subject (never a username or email); `profile_from` sets `email_verified` only from the
   provider's own flag; refuse blocked accounts with `AccessDenied(..., subject=...)`.
2. `@MODULE@/testing.py`: shape `profile()` like your provider's profile answer.
3. If your provider's endpoints are fixed, derive them from one `base_url` setting in
   `@MODULE@/settings.py`.
"""
    + _INSTALL
)

README_OIDC = (
    """
# @DISTRIBUTION@

@LABEL@ sign-in for Identity Hub: the `@TYPE_NAME@` provider type (OpenID Connect: discovery,
ID-token validation with nonce, refresh, RFC 9207), written by `hub plugin new @TYPE_NAME@ --oidc`.

## Configure

```toml
[providers.@TYPE_NAME@]
type = "@TYPE_NAME@"
name = "@LABEL@"
issuer = "https://idp.example.com"
client_id = "..."
scopes = ["openid", "profile", "email"]
# client_secret: HUB_PROVIDERS__@TYPE_NAME@__CLIENT_SECRET in the environment, not here
```

## Make it yours

`@MODULE@/provider.py` inherits everything from `hub.oidc.OpenIdConnectProvider`; override
`roles_from(claims)` to map groups to hub roles, `authorization_params` for extra parameters,
or `claims` to merge the UserInfo answer.
"""
    + _INSTALL
)
