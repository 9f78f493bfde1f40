"""Bytes of a course file as text, exactly: the encoding found, whether a BOM
was there, and nothing invented (no U+FFFD that the file did not hold).

UTF-8 (with or without a BOM) is taken as it is; a UTF-16/32 file with a BOM
by its BOM. Anything else is detected with charset-normalizer, then the
candidates it offers are ranked by how much their text reads like text
(letters with diacritics inside words, not symbols or a capital inside a
lower-case word — which is what tells `Motivação` in Mac Roman from
`Motivaçâo`-like garbage in a neighbouring code page), and named by the
common code page that decodes to the same text (`mac_roman`, not
`mac_iceland`). A decoding is kept only if encoding the text again gives the
file's bytes back, so an export can write the file byte for byte.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Files larger than this are not imported (a plan's skipped list says so):
# bodies above it are indexed for search inside the write itself on the server
# (app/trees/sql.py, DEFER_INDEXING_MAX_BYTES), where one too rich in words
# fails the whole tree; lessons are 5-50 KB.
MAX_FILE_BYTES = 256 * 1024

# Preferred names for the same decoding, in this order.
COMMON_ENCODINGS = ("cp1252", "mac_roman", "latin_1", "iso8859_15", "cp850")
# Typographic signs that real text holds between words.
_TYPOGRAPHY = frozenset(
    "\u201c\u201d\u2018\u2019\u201e\u2013\u2014\u2026\u2022"  # quotes, dashes, ellipsis, bullet
    "\u00ab\u00bb\u00b0\u00ba\u00aa\u00a7\u20ac\u00a3\u00a9\u00ae\u2122"  # «», ordinals, €
    "\u00b7\u00bf\u00a1\u00d7\u00f7\u00b1\u00b5\u00b6"  # middle dot, inverted marks, maths
)
_WESTERN = frozenset("áàâãäéèêëíìîïóòôõöúùûüçñ" + "áàâãäéèêëíìîïóòôõöúùûüçñ".upper())
# How far charset-normalizer may find a text "chaotic" and still offer it: a
# Portuguese lesson in a Windows code page, full of accented capitals, is 0.25.
_CHAOS_THRESHOLD = 0.5

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class NotText(ValueError):
    """The bytes are not text this reader can keep (the message says why)."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str | None  # None: UTF-8
    bom: bool

    def encode(self) -> bytes:
        """The file's bytes again (what an export writes)."""
        encoding = self.encoding or "utf-8"
        bom = next((b for b, name in _BOMS if name == encoding), b"") if self.bom else b""
        return bom + self.text.encode(encoding)


def plausibility(text: str) -> int:
    """How much a decoding reads like text: +1 for each non-ASCII letter where
    letters go (+2 for the accented letters of Portuguese and its neighbours,
    the courses' languages: `ã` over the `ă` of a Central European code page),
    -1 for a control character, an odd symbol, or a capital letter inside a
    lower-case word."""
    score = 0
    for i, char in enumerate(text):
        if char < "\x80":
            if char < " " and char not in "\t\n\r\f":
                score -= 1
            continue
        category = unicodedata.category(char)
        weight = 2 if char in _WESTERN else 1
        if category == "Ll" or category == "Lo":
            score += weight
        elif category == "Lu":
            before = text[i - 1] if i else " "
            score += -1 if before.islower() else weight
        elif char in _TYPOGRAPHY or category.startswith(("M", "Z")):
            continue
        else:
            score -= 1
    return score


def _keeps(data: bytes, text: str, encoding: str) -> bool:
    try:
        return "\x00" not in text and text.encode(encoding) == data
    except (UnicodeError, LookupError):
        return False


def decode(data: bytes) -> Decoded:
    """The text of a file; raises NotText when no encoding gives it back."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                break  # a BOM, then bytes that do not follow it: detect below
            if "\x00" in text:
                raise NotText("contains NUL characters, which the API cannot store")
            return Decoded(text, None if encoding == "utf-8" else encoding, bom=True)
    try:
        text = data.decode("utf_8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" in text:
            raise NotText("binary (NUL bytes)")
        return Decoded(text, None, bom=False)

    offered = [m.encoding for m in from_bytes(data, threshold=_CHAOS_THRESHOLD)]
    if not offered:
        raise NotText("binary, or text in no encoding charset-normalizer knows")
    best: tuple[int, int, str, str] | None = None
    # What charset-normalizer offers, then the common Western code pages (which
    # it may leave out when a rarer one decodes the same bytes about as well).
    for rank, name in enumerate([*offered, *COMMON_ENCODINGS]):
        encoding = codecs.lookup(name).name
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if not _keeps(data, text, encoding):
            continue
        candidate = (plausibility(text), -rank, encoding, text)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotText("binary, or text in no encoding charset-normalizer knows")
    _, _, encoding, text = best
    for common in COMMON_ENCODINGS:
        try:
            if data.decode(common) == text:
                encoding = codecs.lookup(common).name
                break
        except UnicodeDecodeError:
            continue
    return Decoded(text, encoding, bom=False)


# Types that are never text: reported as unsupported without reading them.
BINARY_SUFFIXES = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff", ".heic"),
        *(".psd", ".ai", ".sketch", ".fig", ".mp3", ".wav", ".m4a", ".ogg", ".flac", ".aac"),
        *(".mp4", ".mov", ".mkv", ".avi", ".webm", ".pdf", ".doc", ".docx", ".xls", ".xlsx"),
        *(".ppt", ".pptx", ".odt", ".ods", ".odp", ".key", ".pages", ".numbers", ".zip"),
        *(".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".exe", ".dll", ".so"),
        *(".dylib", ".bin", ".dat", ".db", ".sqlite", ".sqlite3", ".pyc", ".woff", ".woff2"),
        *(".ttf", ".otf", ".eot", ".class", ".jar"),
    }
)
