"""The conformance kit's pytest plugin: the `--hub-strict` option and the end-of-run summary of
what the kit did not check. Installed as the `hub-kit` pytest11 entry point of identity-hub; a
run without entry points (PYTEST_DISABLE_PLUGIN_AUTOLOAD) gets the summary from
`ProviderConformance`, which registers `SUMMARY` itself (strict mode then via HUB_KIT_STRICT=1)."""

from __future__ import annotations

from typing import Any

from hub.plugin.testing.unchecked import RUN, STRICT_ENV, STRICT_OPTION, strict_from_environment

PLUGIN_NAME = "hub-kit"


def pytest_addoption(parser: Any) -> None:
    parser.getgroup("hub", "identity hub provider conformance kit").addoption(
        STRICT_OPTION,
        action="store_true",
        default=False,
        dest="hub_strict",
        help=f"fail every kit check the adapter cannot enable (also: {STRICT_ENV}=1)",
    )


def is_strict(config: Any) -> bool:
    """Strict when the option or the environment variable says so."""
    return bool(config.getoption("hub_strict", default=False)) or strict_from_environment()


class Summary:
    """Prints one line per plugin at the end of the run: what was not checked."""

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: Any) -> None:
        lines = RUN.lines()
        if not lines:
            return
        terminalreporter.section("hub conformance kit")
        for line in lines:
            terminalreporter.write_line(line)


SUMMARY = Summary()


def pytest_configure(config: Any) -> None:
    if not config.pluginmanager.is_registered(SUMMARY):
        config.pluginmanager.register(SUMMARY, f"{PLUGIN_NAME}-summary")


def ensure_registered(config: Any) -> None:
    """Register the summary in a run that did not load the entry point."""
    if not config.pluginmanager.is_registered(SUMMARY):
        config.pluginmanager.register(SUMMARY, f"{PLUGIN_NAME}-summary")
    RUN.strict = is_strict(config)


__all__ = ["PLUGIN_NAME", "SUMMARY", "Summary", "ensure_registered", "is_strict"]
