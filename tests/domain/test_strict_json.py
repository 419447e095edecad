"""Strict JSON: duplicate keys, NaN, deep nesting and bad encodings are refused, clearly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bodyworn.domain.strict_json import MAX_DEPTH, JsonRefused, load_object, loads


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"a": 1, "a": 2}', "'a' is given more than once"),
    (b'[{"b": {"c": 1, "c": 1}}]', "'c' is given more than once"),
    (b"[NaN]", "NaN is not a JSON number"),
    (b"[Infinity]", "Infinity is not a JSON number"),
    (b"[" * 100_000 + b"]" * 100_000, "nests more than"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nests more than"),
    (b"1" * 5000, "not valid JSON"),
    (b"\xff", "not UTF-8"),
    (b"{", "not valid JSON"),
])
def test_refusals_say_why(raw: bytes, why: str) -> None:
    with pytest.raises(JsonRefused, match=why):
        loads(raw)


def test_the_deepest_allowed_document_parses() -> None:
    raw = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(raw) is not None


def test_objects_only_where_an_object_is_wanted() -> None:
    assert load_object(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(JsonRefused, match="must be an object"):
        load_object(b"[1]")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_whatever_json_writes_reads_back_the_same(value: object) -> None:
    try:
        assert loads(json.dumps(value)) == value
    except JsonRefused as exc:  # only a chain of single-item lists nests this deep
        assert "nests more than" in str(exc)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused(raw: bytes) -> None:
    try:
        loads(raw)
    except JsonRefused as exc:
        assert str(exc)
