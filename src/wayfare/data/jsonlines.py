"""Read a JSON Lines file as objects, with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from wayfare.data.errors import DataFormatError


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line number, object)`` for each non-blank line; a bad line raises :class:`DataFormatError`."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{lineno}: not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise DataFormatError(f"{path}:{lineno}: expected a JSON object")
        yield lineno, obj
