"""URL converters of the app: `<int:...>` bounded to the hub's id range in every route."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, ValidationError

from hub.core.parsing import MAX_ID


class IdConverter(BaseConverter):
    """The app's `<int:...>` URL converter: ASCII digits up to MAX_ID, else no route (404).

    Werkzeug's own accepts any length, so /admin/users/99999999999999999999 reached the
    database and overflowed; installed as "int" by create_app, it bounds every route,
    including those plugins add.
    """

    regex = r"[0-9]{1,19}"
    part_isolating = True

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        super().__init__(map)

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 <= number <= MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))
