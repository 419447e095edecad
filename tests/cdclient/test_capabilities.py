"""Capabilities and categories parsing: strict, and never a crash on bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bodyworn.cdclient.capabilities import (
    KNOWN_CAPABILITIES,
    Capabilities,
    CategoriesError,
    Category,
    etag_matches,
    parse_capabilities,
    parse_categories,
)


def md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def test_etag_rule() -> None:
    body = b'{"Store": {}}'
    assert etag_matches(body, md5(body))
    assert etag_matches(body, f'"{md5(body).upper()}"')
    assert not etag_matches(body, None)
    assert not etag_matches(body, f'W/"{md5(body)}"')
    assert not etag_matches(body, md5(b"other"))


def test_capabilities_parse() -> None:
    body = json.dumps(
        {"Read": {"ReadCategories": True}, "Store": {"StoreBookmarks": False, "Future": True}}
    ).encode()
    caps = parse_capabilities(body, md5(body))
    assert caps.supports("ReadCategories") and caps.supports("Future")
    assert not caps.supports("StoreBookmarks") and caps.problem is None
    assert not parse_capabilities(body, None).supports("ReadCategories")
    everything = Capabilities.everything()
    assert all(everything.supports(c) for c in KNOWN_CAPABILITIES)
    assert everything.supports("SomethingNew")


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"nul", b'{"Store": []}', b'{"Store": {"StoreBookmarks": 1}}', b"\xff{}",
     # A key given twice: readers differ on which wins, so it is no document at all.
     b'{"Store": {"StoreBookmarks": true, "StoreBookmarks": false}}'],
)
def test_malformed_capabilities_support_nothing(body: bytes) -> None:
    caps = parse_capabilities(body, md5(body))
    assert caps.enabled == frozenset() and caps.problem


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_json_capabilities_never_crash(doc: object) -> None:
    body = json.dumps(doc).encode()
    caps = parse_capabilities(body, md5(body))
    assert isinstance(caps, Capabilities)


@given(st.binary(max_size=64))
def test_any_bytes_capabilities_never_crash(body: bytes) -> None:
    assert isinstance(parse_capabilities(body, md5(body)), Capabilities)


@given(json_values)
def test_any_json_categories_parse_or_raise_cleanly(doc: object) -> None:
    body = json.dumps(doc).encode()
    try:
        found = parse_categories(body, md5(body))
    except CategoriesError:
        return
    assert all(isinstance(c, Category) and c.id and c.name for c in found)


def test_categories_parse() -> None:
    body = b'[{"Name": "Testimony", "Id": "1"}, {"Id": 2, "Name": "Traffic", "Extra": true}]'
    assert parse_categories(body, md5(body)) == (
        Category("1", "Testimony"),
        Category("2", "Traffic"),
    )
    for bad in (
        b"{}",
        b'[{"Name": "A"}]',
        b'[{"Name": "A", "Id": true}]',
        b'[{"Name": "", "Id": "1"}]',
        b'[{"Name": "A", "Id": "1"}, {"Name": "B", "Id": "1"}]',
        b'[{"Name": "A", "Name": "B", "Id": "1"}]',
        b"[1]",
    ):
        with pytest.raises(CategoriesError):
            parse_categories(bad, md5(bad))
    with pytest.raises(CategoriesError, match="corrupt"):
        parse_categories(body, "x")
