"""What the conformance kit could not check, per plugin: the checks record it, the run's summary
prints it ("not checked: ..."), and strict mode turns it into failures.

Strict mode is on with the pytest option `--hub-strict` or the environment variable
`HUB_KIT_STRICT=1` (the scaffold's generated CI sets it). A check the provider's protocol does not
have (a nonce without ID tokens) is not a gap: it is skipped, never recorded. A member the
adapter names in `does_not_apply` (with why) is printed as "not applicable", never a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

STRICT_ENV = "HUB_KIT_STRICT"
STRICT_OPTION = "--hub-strict"


@dataclass
class KitRun:
    """What one pytest run of the kit found missing: plugin name -> {adapter member: checks}."""

    strict: bool = False
    current_check: str = ""
    plugins: set[str] = field(default_factory=set)
    missing: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    not_applicable: dict[str, dict[str, str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per plugin: the members whose checks did not run, and those that do not apply."""
        out = []
        for plugin in sorted(self.plugins | set(self.missing) | set(self.not_applicable)):
            gaps = self.missing.get(plugin, {})
            if gaps:
                named = ", ".join(f"{member} ({', '.join(sorted(checks))})" for member, checks in sorted(gaps.items()))
                out.append(f"hub kit: {plugin}: not checked: {named}")
            else:
                out.append(f"hub kit: {plugin}: not checked: nothing (every check the protocol has ran)")
            skipped = self.not_applicable.get(plugin, {})
            if skipped:
                out.append(f"hub kit: {plugin}: not applicable: " + "; ".join(f"{m}: {why}" for m, why in sorted(skipped.items())))
        return out


RUN = KitRun()
"""The current run (one per process; the pytest plugin prints it at the end)."""


def plugin_of(adapter: Any) -> str:
    return str(getattr(adapter, "plugin_name", type(adapter).__name__))


def strict_from_environment() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def not_checked(adapter: Any, member: str, why: str) -> NoReturn:
    """The current check cannot run because the adapter lacks `member`: record it, then skip
    (or fail, in strict mode). A member the adapter says does not apply is skipped quietly."""
    if note_not_checked(adapter, member):
        pytest.fail(f"strict mode ({STRICT_OPTION} / {STRICT_ENV}=1): not checked: {why}; implement adapter.{member}")
    pytest.skip(f"not checked: {why}")


def note_not_checked(adapter: Any, member: str) -> bool:
    """Record a gap without stopping the check; True when strict mode makes it a failure."""
    plugin = plugin_of(adapter)
    reason = dict(getattr(adapter, "does_not_apply", {}) or {}).get(member)
    if reason:
        RUN.not_applicable.setdefault(plugin, {})[member] = reason
        return False
    RUN.missing.setdefault(plugin, {}).setdefault(member, set()).add(RUN.current_check or "?")
    return RUN.strict


__all__ = ["RUN", "STRICT_ENV", "STRICT_OPTION", "KitRun", "not_checked", "note_not_checked", "plugin_of", "strict_from_environment"]
