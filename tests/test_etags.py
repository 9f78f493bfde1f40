"""Parsing `If-None-Match` and `If-Match` (RFC 9110 13.1): any value a client
sends answers, never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.etags import ANY, EntityTag, match, none_match, parse

pytestmark = pytest.mark.pure

DIGEST = "0123abcd"


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"a"', [EntityTag("a")]),
        ('W/"a", "b"', [EntityTag("a", weak=True), EntityTag("b")]),
        (' "a" ,, "b" ', [EntityTag("a"), EntityTag("b")]),
        ("*", [ANY]),
        ('"a,b"', [EntityTag("a,b")]),  # a comma is an etagc
        ('""', [EntityTag("")]),
        ("a", None),
        ('"a" b', None),
        ('"a', None),
        ("", None),
        (",", None),
        ('w/"a"', None),  # W/ is case-sensitive
    ],
)
def test_parse(header: str, tags: list[EntityTag] | None) -> None:
    assert parse(header) == tags


def test_if_none_match_compares_weakly() -> None:
    etag = f'"{DIGEST}"'
    assert none_match(f'W/"{DIGEST}"', etag)
    assert none_match(f'"x", "{DIGEST}"', etag)
    assert none_match("*", etag)
    assert not none_match(f'"{DIGEST}-gzip"', etag), "another representation"
    assert not none_match(None, etag)
    assert not none_match(DIGEST, etag), "unquoted: not a tag"


def test_if_match_compares_strongly_with_either_encoding() -> None:
    assert match(f'"{DIGEST}"', DIGEST)
    assert match(f'"{DIGEST}-gzip"', DIGEST)
    assert match(f'"x", "{DIGEST}"', DIGEST)
    assert match("*", DIGEST)
    assert not match("*", None), "* needs the resource to exist"
    assert not match(f'W/"{DIGEST}"', DIGEST)
    assert not match('"other"', DIGEST)
    assert not match("garbage", DIGEST)


@given(st.text(), st.text(alphabet="0123456789abcdef", max_size=32))
def test_any_header_value_is_answered(header: str, current: str) -> None:
    tags = parse(header)
    assert tags is None or all(isinstance(tag, EntityTag) for tag in tags)
    assert isinstance(none_match(header, f'"{current}"'), bool)
    assert isinstance(match(header, current), bool)
    assert isinstance(match(header, None), bool)


@given(st.lists(st.tuples(st.booleans(), st.text(alphabet="abc-123,/W*", max_size=8)), max_size=5))
def test_a_list_of_tags_reads_back(tags: list[tuple[bool, str]]) -> None:
    quoted = [(weak, opaque.replace('"', "")) for weak, opaque in tags]
    header = ", ".join(f'{"W/" if weak else ""}"{opaque}"' for weak, opaque in quoted)
    assert parse(header) == ([EntityTag(o, w) for w, o in quoted] or None)
