"""Where the hub's templates and migrations are, in a checkout and in an installed wheel.

The wheel carries them inside the package (hub/_bundled/...); an editable checkout uses the
top-level folders, so both layouts run the same code.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # the hub package: this file is hub/core/resources.py


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"none of {', '.join(str(c) for c in candidates)} exists; the installation is incomplete"
    )


def templates_dir() -> Path:
    return _first_existing(_PACKAGE / "_bundled" / "templates", _PACKAGE.parent / "templates")


def migrations_dir() -> Path:
    return _first_existing(_PACKAGE / "_bundled" / "migrations", _PACKAGE.parent / "migrations")


def static_dir() -> Path:
    return _PACKAGE / "static"
