"""`hub plugin new`: a complete, installable provider plugin package, written from templates.

The package is what docs/plugins.md describes, already wired: a pyproject with the
`identity_hub` entry point, a provider class on `hub.oidc.OAuth2Provider` or
`OpenIdConnectProvider`, settings validated at start without echoing secrets, the conformance
kit and an end-to-end sign-in through a real hub, both against
`hub.testing.authserver.FakeAuthorizationServer`, and a README. Its tests pass as generated
(tests/e2e/test_plugin_new.py installs one into a fresh venv and runs them); the author then
changes the endpoints and the profile mapping to their provider's. The templates are files
under `hub/plugin/scaffold_templates/`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from hub.errors import HubError

NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
KINDS = ("oauth2", "oidc")
TEMPLATES = files("hub.plugin") / "scaffold_templates"
"""The package's files as templates (package data, so they ship in the wheel): `common/` for
every kind, then one folder per kind. Paths and texts carry `@NAME@` placeholders."""
SUFFIX = ".tmpl"
"""Every template ends so, so that pytest and ruff leave the unfilled Python alone."""


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
    install = (TEMPLATES / "readme-install.md.tmpl").read_text(encoding="utf-8")
    for folder in ("common", kind):
        for relative, template in _templates(TEMPLATES / folder):
            path = root / render(relative.removesuffix(SUFFIX), names)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(template.replace("@INSTALL@\n", install), names), encoding="utf-8")
    return root


def _templates(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path inside the package, text) of every template under `folder`, in a stable order."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _templates(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(SUFFIX):
            yield f"{prefix}{entry.name}", entry.read_text(encoding="utf-8")


def render(template: str, names: Names) -> str:
    """The template with its `@NAME@` placeholders filled in; nothing else is substituted."""
    text = template
    for key, value in (
        ("TYPE_NAME", names.type_name),
        ("MODULE", names.module),
        ("DISTRIBUTION", names.distribution),
        ("CLASS", names.cls),
        ("LABEL", names.label),
    ):
        text = text.replace(f"@{key}@", value)
    return text
