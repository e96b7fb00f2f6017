"""The kit's watch over one check: every secret it saw (client secret, assertion key, codes and
tokens the fake issued), every log record of every logger at every level, and the errors the
provider raised; a secret in a record or an error fails the check."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hub.plugin.testing.adapters import REDIRECT_URI, ConformanceAdapter
from hub.plugin.testing.generic_fake import issued_secrets

MIN_SECRET_LENGTH = 8
"""Shorter values (a port, `true`) would match by accident."""


class Watch:
    """Secrets to look for, and the log records captured while a check ran."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def add(self, what: str, values: Iterable[Any]) -> None:
        """Remember secret `values` (what they are, for the failure message)."""
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self.secrets.setdefault(value, what)

    def found_in(self, text: str) -> list[str]:
        """What secrets `text` shows."""
        return sorted({what for value, what in list(self.secrets.items()) if value in text})

    def error_leaks(self, error: BaseException) -> list[str]:
        """What secrets an error's message, arguments or cause chain shows."""
        shown: list[str] = []
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            shown += self.found_in(f"{current} {current.args!r}")
            current = current.__cause__ or current.__context__
        return sorted(set(shown))

    def log_leaks(self) -> list[str]:
        """`logger LEVEL: what` for each captured record showing a secret."""
        leaks = []
        for record in list(self.records):
            try:
                text = record.getMessage()
            except Exception:  # a malformed record: its parts are searched instead
                text = f"{record.msg} {record.args!r}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" {record.exc_info[1]} {record.exc_info[1].args!r}"
            extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            text += f" {extras!r}"
            for what in self.found_in(text):
                leaks.append(f"{record.name} {record.levelname}: {what}")
        return leaks

    @contextmanager
    def capturing(self) -> Iterator[Watch]:
        """Capture every record of every logger, DEBUG included, whatever the configured levels
        and `propagate`; the records still reach the usual handlers only when enabled there."""
        enabled, handle = logging.Logger.isEnabledFor, logging.Logger.handle
        watch = self

        def always(self: logging.Logger, level: int) -> bool:
            return True

        def capture(self: logging.Logger, record: logging.LogRecord) -> None:
            with watch._lock:
                watch.records.append(record)
            if enabled(self, record.levelno):
                handle(self, record)

        logging.Logger.isEnabledFor = always  # type: ignore[method-assign]
        logging.Logger.handle = capture  # type: ignore[method-assign]
        try:
            yield self
        finally:
            logging.Logger.isEnabledFor = enabled  # type: ignore[method-assign]
            logging.Logger.handle = handle  # type: ignore[method-assign]


_STANDARD = frozenset(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime"}

CURRENT: list[Watch] = []
"""The watch of the check running now (empty outside a check)."""


def current() -> Watch | None:
    return CURRENT[-1] if CURRENT else None


SECRET_SETTING_WORDS = ("secret", "password", "private", "assertion", "key")
"""A setting whose name holds one of these is watched as a secret too (an assertion key)."""


@contextmanager
def watching(adapter: ConformanceAdapter) -> Iterator[Watch]:
    """Watch one check against `adapter`'s IdP: its secret settings and the codes and tokens
    the IdP issued must reach no log record; fails the check (AssertionError) when one does."""
    watch = Watch()
    table = adapter.provider_table(REDIRECT_URI)
    watch.add("the client secret", [table.get(name) for name in adapter.secret_settings])
    watch.add("a secret setting", [v for k, v in table.items() if any(w in k.lower() for w in SECRET_SETTING_WORDS)])
    CURRENT.append(watch)
    try:
        with watch.capturing():
            yield watch
    finally:
        CURRENT.remove(watch)
    watch.add("a code or token the IdP issued", issued_secrets(adapter))
    leaks = watch.log_leaks()
    assert not leaks, "a log record shows a secret (never log tokens, codes or secrets): " + "; ".join(leaks[:5])


def saw(what: str, *values: Any) -> None:
    """Tell the current watch about secrets the kit just handled (no-op outside a check)."""
    watch = current()
    if watch is not None:
        watch.add(what, values)


__all__ = ["CURRENT", "MIN_SECRET_LENGTH", "SECRET_SETTING_WORDS", "Watch", "current", "saw", "watching"]
