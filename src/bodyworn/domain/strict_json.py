"""JSON from the outside, read strictly: one parser for every request body and file.

Python's `json` takes the last of two equal keys, reads NaN and Infinity, and raises
RecursionError (not ValueError) on a deeply nested document. Parsers disagree about
duplicate keys, so a document with one means different things to different readers;
it is refused. Nesting is bounded far below what any of our documents needs, so a
100 000-deep array costs a clear refusal instead of a crash.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 32
"""How deeply arrays and objects may nest (our deepest document needs 5)."""


class JsonRefused(ValueError):
    """A document that is not strict JSON; the message says why in plain words."""


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in an already parsed value (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON text; raises JsonRefused for anything else.

    Refused: bytes that are not UTF-8, text that is not JSON, NaN and Infinity, a key
    given twice in one object, numbers Python will not convert (over 4300 digits) and
    nesting deeper than `max_depth`.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("the body is not UTF-8 text") from None
    else:
        text = data
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except _Duplicate as exc:
        raise JsonRefused(f"the key {exc.key!r} is given more than once") from None
    except JsonRefused:
        raise
    except RecursionError:
        raise JsonRefused(f"the JSON nests more than {max_depth} levels deep") from None
    except ValueError as exc:
        # JSONDecodeError (with where it went wrong) and over-long integers.
        raise JsonRefused(f"not valid JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise JsonRefused(f"the JSON nests more than {max_depth} levels deep")
    return value


def load_object(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse strict JSON that must be an object; raises JsonRefused otherwise."""
    value = loads(data, max_depth=max_depth)
    if not isinstance(value, dict):
        raise JsonRefused("the JSON must be an object")
    return value
