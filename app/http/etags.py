"""Entity tags: the validator of an answer's exact bytes, and the two
conditional request headers that carry them back (RFC 9110 section 13).

One parser for `If-None-Match` and `If-Match`, total over any input: a header
it cannot read is `None` (ignored for `If-None-Match`, which then answers
200; never matched for `If-Match`, which then answers 412), never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xxhash

GZIP_SUFFIX = "-gzip"

# One element of the list: `*`, or an entity tag (`"opaque"` or `W/"opaque"`;
# RFC 9110 8.8.3: etagc is any visible character but DQUOTE, and obs-text),
# then a comma or the end. Whitespace around elements and empty elements
# (`a, , b`: RFC 9110 5.6.1's list rule) are allowed.
_ELEMENT = re.compile(r'[ \t]*(?:(\*)|(W/)?"([\x21\x23-\x7e\x80-\xff]*)")[ \t]*(?:,|\Z)')
_EMPTY = re.compile(r"[ \t]*,")


@dataclass(frozen=True)
class EntityTag:
    opaque: str
    weak: bool = False


# `*` in a list: any current representation.
ANY = EntityTag("*")


def digest(body: bytes) -> str:
    """An answer's validator: a 128-bit hash of its exact bytes (xxHash's
    XXH3: 670 KB in ~0.02 ms, where BLAKE2b took 0.8 ms)."""
    return xxhash.xxh3_128_hexdigest(body)


def parse(header: str) -> list[EntityTag] | None:
    """The tags of an `If-None-Match`/`If-Match` value (`ANY` for `*`), or
    None when it is not such a list."""
    tags: list[EntityTag] = []
    position, end = 0, len(header)
    while position < end:
        empty = _EMPTY.match(header, position)
        if empty is not None:
            position = empty.end()
            continue
        element = _ELEMENT.match(header, position)
        if element is None:
            return None if header[position:].strip(" \t") else (tags or None)
        star, weak, opaque = element.groups()
        tags.append(ANY if star else EntityTag(opaque, weak is not None))
        position = element.end()
    return tags or None


def none_match(header: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this representation (`etag`, quoted, as
    sent): `*`, or its tag compared weakly (RFC 9110 13.1.2: `W/"x"` matches
    `"x"`). An unreadable header names nothing."""
    if header is None:
        return False
    tags = parse(header)
    if tags is None:
        return False
    opaque = etag.strip('"')
    return any(tag is ANY or tag.opaque == opaque for tag in tags)


def match(header: str, current: str | None) -> bool:
    """Whether `If-Match` holds for the resource whose current validator is
    `current` (its digest; None: the resource does not exist): `*` when it
    exists, else a strong comparison (RFC 9110 13.1.1: a weak tag never
    matches) with either encoding's tag of it (`"d"` as sent identity,
    `"d-gzip"` gzipped: the same version of the resource)."""
    if current is None:
        return False
    tags = parse(header)
    if tags is None:
        return False
    forms = {current, current + GZIP_SUFFIX}
    return any(tag is ANY or (not tag.weak and tag.opaque in forms) for tag in tags)
