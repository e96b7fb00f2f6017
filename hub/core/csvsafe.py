"""CSV cells a spreadsheet shows as text, never runs: the one guard both exports use.

Names, emails and user agents come from identity providers and browsers, so from anyone. A
cell that a spreadsheet would read as a formula (OWASP "CSV injection") gets a leading
quote. The test is on what the spreadsheet sees: after leading spaces, non-breaking and other
Unicode spaces, invisible format characters, and after NFKC folding (so a full-width "＝" is
an "="), a cell starting with = + - @ | % is a formula; so is one starting with a tab or a
line break.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

FORMULA_START = frozenset("=+-@|%")
_BREAKS = frozenset("\t\r\n")


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could take this cell for a formula."""
    if text[:1] in _BREAKS:
        return True
    visible = unicodedata.normalize("NFKC", text)
    for char in visible:
        if char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Zs"}:
            continue
        return char in FORMULA_START
    return False


def cell(value: Any) -> str:
    """One value as safe CSV text: None empty, times ISO 8601, booleans yes/no, tuples
    space-separated, dicts as JSON; a formula-like result quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat(timespec="seconds")
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, tuple):
        text = " ".join(str(item) for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    else:
        text = str(value)
    return "'" + text if is_formula(text) else text


def line(cells: Iterable[str], terminator: str = "\r\n") -> str:
    """One CSV record (RFC 4180 quoting) from cells already made safe with `cell`."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerow(list(cells))
    return buffer.getvalue()
