"""The plugin API reference (docs/reference.md), generated from the docstrings and values of
everything a plugin imports, so the page cannot drift from the code.

    uv run python -m hub.plugin.apidoc > docs/reference.md

tests/unit/test_reference_docs.py fails when the committed page differs from what this module
generates. Attribute docstrings (a string right after a class attribute) are read from the
source, as Sphinx does.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from types import ModuleType
from typing import Any

MODULES = (
    "hub",
    "hub.provider",
    "hub.errors",
    "hub.http",
    "hub.oidc",
    "hub.routes",
    "hub.testing.conformance",
    "hub.testing.authserver",
    "hub.testing.app",
    "hub.testing.people",
    "hub.testing.grants",
    "hub.testing.misbehaviour",
    "hub.testing.keys",
)
"""What a plugin imports, in reading order."""

HEADER = """# Plugin API reference

Generated from the code by `uv run python -m hub.plugin.apidoc > docs/reference.md`; do not edit by
hand (tests/unit/test_reference_docs.py compares). How to write a plugin: [plugins.md](plugins.md).
Everything here is part of plugin API version 1: names are only ever added.
"""


def public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and not inspect.ismodule(value)
            and (getattr(value, "__module__", module.__name__) == module.__name__ or not callable(value))
            and name not in {"annotations", "TYPE_CHECKING"}
        ]
    return list(names)


def attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings written under class attributes, from the source of the class and its bases
    (nearest first)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not klass.__module__.startswith("hub"):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in zip(body, [*body[1:], None], strict=True):
            target = None
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                target = node.target.id
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
            if (
                target
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[target] = inspect.cleandoc(following.value.value)
    return docs


def module_constant_docs(module: ModuleType) -> dict[str, str]:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return {}
    docs: dict[str, str] = {}
    for node, following in zip(tree.body, [*tree.body[1:], None], strict=True):
        names: list[str] = []
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        if names and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
            for name in names:
                docs[name] = inspect.cleandoc(following.value.value)
    return docs


def signature(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def doc(obj: Any) -> str:
    """The object's own docstring (not one inherited from requests or pluggy), without the
    signature-like docstring dataclasses generate."""
    own = obj.__doc__ if isinstance(obj, type | ModuleType) or callable(obj) else None
    if not isinstance(own, str):
        return ""
    text = inspect.cleandoc(own)
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and text.startswith(f"{obj.__name__}("):
        return ""
    return text


def quote(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def value_text(value: Any) -> str:
    if isinstance(value, frozenset | set):  # a stable order: str hashes differ per process
        text = "{" + ", ".join(sorted(repr(item) for item in value)) + "}"
    else:
        text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _folded_bases(cls: type) -> list[type]:
    """The hub bases whose members the reference shows on `cls`: those it documents nowhere
    else (the conformance suite's checks, split into their own module), most basic first."""
    return [base for base in reversed(cls.__mro__[1:]) if base.__module__.startswith("hub.") and not _documented(base)]


def _documented(cls: type) -> bool:
    return any(vars(importlib.import_module(m)).get(cls.__name__) is cls and cls.__name__ in public_names(importlib.import_module(m)) for m in MODULES)


def render_class(name: str, cls: type) -> Iterator[str]:
    folded = _folded_bases(cls)
    bases = ", ".join(b.__name__ for b in cls.__bases__ if b is not object and b not in folded)
    yield f"### `{name}`" + (f" ({bases})" if bases else "")
    yield ""
    if doc(cls) and cls.__doc__:
        yield doc(cls)
        yield ""
    attributes = attribute_docs(cls)
    if dataclasses.is_dataclass(cls):
        rows = [(f.name, str(f.type), attributes.get(f.name, "")) for f in dataclasses.fields(cls)]
        if rows:
            yield "| field | type | meaning |"
            yield "| --- | --- | --- |"
            for field_name, type_name, meaning in rows:
                yield f"| `{field_name}` | `{quote(type_name)}` | {quote(meaning)} |"
            yield ""
    members: list[str] = []
    own: dict[str, Any] = {}
    for owner in [*folded, cls]:
        own.update(vars(owner))
    for member_name, member in own.items():
        if member_name.startswith("_") and member_name != "__init__":
            continue
        if dataclasses.is_dataclass(cls) and member_name in {f.name for f in dataclasses.fields(cls)}:
            continue
        if member_name == "__init__" and (dataclasses.is_dataclass(cls) or not doc(member)):
            continue
        if isinstance(member, property):
            members.append(f"- `{member_name}` (property){_colon(doc(member.fget) if member.fget else '')}")
        elif isinstance(member, staticmethod | classmethod):
            function = member.__func__
            members.append(f"- `{member_name}{signature(function)}`{_colon(doc(function))}")
        elif hasattr(member, "_fixture_function_marker"):  # a pytest fixture of the kit
            function = member.__wrapped__
            members.append(f"- fixture `{member_name}`{_colon(doc(function))}")
        elif inspect.isfunction(member):
            members.append(f"- `{member_name}{signature(member)}`{_colon(doc(member) or _inherited_doc(cls, member_name))}")
        elif member_name in attributes:
            members.append(f"- `{member_name}` = `{quote(value_text(member))}`: {quote(attributes[member_name])}")
        elif not callable(member) and not member_name.startswith("__"):
            members.append(f"- `{member_name}` = `{quote(value_text(member))}`")
    for annotated in getattr(cls, "__annotations__", {}):
        if annotated not in vars(cls) and annotated in attributes and not dataclasses.is_dataclass(cls):
            members.append(f"- `{annotated}` (declared): {quote(attributes[annotated])}")
    if members:
        yield from members
        yield ""


def _colon(text: str) -> str:
    return f": {quote(text)}" if text else ""


def _inherited_doc(cls: type, name: str) -> str:
    """The docstring of the method this one overrides, from the nearest hub base class."""
    for base in cls.__mro__[1:]:
        member = vars(base).get(name)
        if member is not None and base.__module__.startswith("hub") and doc(member):
            return doc(member)
    return ""


def render_errors(module: ModuleType) -> Iterator[str]:
    from hub.errors import HubError

    yield "Every error a plugin raises is one of these. The core turns it into the page (or the JSON"
    yield "error) with the status below; the audit event of a failed sign-in, refresh or admin"
    yield "action records the error's `code` as its `reason`. `SignInError(..., subject=...)` adds"
    yield "`provider_subject` to that event. Constructor: `Error(message, *, code=None, hint=None,"
    yield "provider_code=None, status=None)`; messages are shown to people and must never carry a"
    yield "token, code, verifier or secret."
    yield ""
    yield "A raise may pass its own `code` (for example `AccessDenied(..., code=\"account_blocked\")`);"
    yield "the code below is the default."
    yield ""
    yield "| error | base | HTTP status | default code (audit reason) | title | when |"
    yield "| --- | --- | --- | --- | --- | --- |"
    classes = [value for value in vars(module).values() if inspect.isclass(value) and issubclass(value, HubError)]
    for cls in classes:
        base = cls.__bases__[0].__name__ if cls is not HubError else "Exception"
        yield f"| `{cls.__name__}` | `{base}` | {cls.status} | `{cls.code}` | {quote(cls.title)} | {quote(doc(cls))} |"
    yield ""


def render_module(module_name: str) -> Iterator[str]:
    module = importlib.import_module(module_name)
    yield f"## `{module_name}`"
    yield ""
    if module_name == "hub":
        yield "`hookimpl` marks a plugin's hook implementations (pluggy's `HookimplMarker` for the"
        yield "`identity_hub` project); the hooks are in [plugins.md](plugins.md#hooks)."
        yield ""
    if doc(module):
        yield doc(module)
        yield ""
    if module_name == "hub.errors":
        yield from render_errors(module)
        return
    constants = module_constant_docs(module)
    classes, functions, values = [], [], []
    for name in public_names(module):
        value = getattr(module, name)
        if inspect.isclass(value):
            classes.append((name, value))
        elif callable(value) and not getattr(value, "__module__", "hub").startswith("hub"):
            continue  # hookimpl, hookspec: pluggy's, described above
        elif callable(value):
            functions.append((name, value))
        else:
            values.append((name, value))
    if values:
        yield "| name | value | meaning |"
        yield "| --- | --- | --- |"
        for name, value in values:
            source = sys.modules.get(getattr(value, "__module__", "") or "", module)
            meaning = constants.get(name) or module_constant_docs(source).get(name, "")
            if not meaning:
                owner = _defining_module(module, name)
                meaning = module_constant_docs(owner).get(name, "") if owner else ""
            yield f"| `{name}` | `{quote(value_text(value))}` | {quote(meaning)} |"
        yield ""
    for name, function in functions:
        yield f"### `{name}{signature(function)}`"
        yield ""
        if doc(function):
            yield doc(function)
            yield ""
    for name, cls in classes:
        yield from render_class(name, cls)


def _defining_module(package: ModuleType, name: str) -> ModuleType | None:
    """For a constant re-exported by a package (hub.oidc) or a module (hub.testing.conformance),
    the submodule or sibling module that defines it."""
    for prefix in (package.__name__ + ".", package.__name__.rpartition(".")[0] + "."):
        for module_name, module in sorted(sys.modules.items()):
            if module_name.startswith(prefix) and name in vars(module) and name in module_constant_docs(module):
                return module
    return None


def generate() -> str:
    lines = [HEADER]
    lines.append("Modules: " + ", ".join(f"[`{m}`](#{m.replace('.', '')})" for m in MODULES) + ".")
    lines.append("")
    for module_name in MODULES:
        lines.extend(render_module(module_name))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())
