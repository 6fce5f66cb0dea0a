"""Input files read as a stream of records: CSV rows, GeoJSON features, NGSI-LD entities.

Every reader holds at most one buffer (about 1 MiB) of the file plus the record being read, so
memory stays bounded whatever the file's size. JSON files are read element by element from
their top-level array (or a FeatureCollection's ``features``) instead of being parsed whole.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from cityhub.importer.errors import ImportFailed

CSV, GEOJSON, NGSI_LD = "csv", "geojson", "ngsi-ld"
FORMATS = ("auto", CSV, GEOJSON, NGSI_LD)
_SAMPLE = 1 << 20
_WS = re.compile(r"[ \t\r\n]*")
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(slots=True)
class Source:
    """An opened input: its kind, header (CSV), encoding and records."""

    path: str
    kind: str
    records: Iterator[tuple[int, Any]]  # (CSV line / JSON item number, raw record)
    columns: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    encoding_note: str = ""
    crs: str | None = None  # a GeoJSON file's own "crs" member
    handle: IO[Any] | None = None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def detect_format(path: str) -> str:
    """csv, geojson or ngsi-ld, from the file name and, for .json, the first bytes."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tsv", ".txt"):
        return CSV
    if ext == ".geojson":
        return GEOJSON
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024).decode("utf-8-sig", errors="replace")
    except OSError as err:
        raise ImportFailed(f"cannot read {path}: {err.strerror}") from err
    stripped = head.lstrip()
    if not stripped.startswith(("[", "{")):
        return CSV
    if re.search(r'"type"\s*:\s*"Feature(Collection)?"', head) or re.search(
        r'"features"\s*:', head
    ):
        return GEOJSON
    return NGSI_LD


def open_source(
    path: str, kind: str, encoding: str = "auto", delimiter: str | None = None
) -> Source:
    """Open ``path`` as ``kind`` (ImportFailed with one line when it cannot be read)."""
    if not os.path.isfile(path):
        raise ImportFailed(f"cannot read {path}: no such file")
    if kind == CSV:
        return _open_csv(path, encoding, delimiter)
    return _open_json(path, kind, encoding)


# --- CSV -----------------------------------------------------------------------------------


def detect_encoding(sample: bytes, complete: bool) -> str:
    """utf-8-sig if the sample is UTF-8 (with or without BOM), else cp949 (EUC-KR's superset,
    used by Korean public-data downloads); ImportFailed if it is neither."""
    try:
        codecs.getincrementaldecoder("utf-8-sig")("strict").decode(sample, final=complete)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        # a sample may end inside a two-byte character: drop a trailing partial one
        codecs.getincrementaldecoder("cp949")("strict").decode(sample, final=complete)
        return "cp949"
    except UnicodeDecodeError as err:
        raise ImportFailed(
            f"cannot tell the file's encoding: it is neither UTF-8 nor CP949 (byte "
            f"{err.start}); give --encoding"
        ) from err


def _open_csv(path: str, encoding: str, delimiter: str | None) -> Source:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except OSError as err:
        raise ImportFailed(f"cannot read {path}: {err.strerror}") from err
    try:
        if encoding == "auto":
            sample = raw.read(_SAMPLE)
            raw.seek(0)
            used = detect_encoding(sample, complete=len(sample) < _SAMPLE)
            shown = "utf-8" if used == "utf-8-sig" else used
            note = f"encoding {shown} (detected)"
        else:
            try:
                used = codecs.lookup(encoding).name
            except LookupError as err:
                raise ImportFailed(f"unknown encoding {encoding!r} (try utf-8 or cp949)") from err
            if used == "utf-8":
                used = "utf-8-sig"  # a BOM is not part of the first column's name
            note = f"encoding {encoding} (given)"
        text = _TextReader(raw, used, path)
        if delimiter is None:
            delimiter = "\t" if path.lower().endswith(".tsv") else ","
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFailed(f"{path} is empty: a CSV file needs a header row") from None
        except csv.Error as err:
            raise ImportFailed(f"{path}: the header row is not valid CSV: {err}") from err
        columns = [c.strip() for c in header]
        if not any(columns):
            raise ImportFailed(f"{path}: the first row must name the columns")
    except BaseException:
        raw.close()
        raise
    return Source(path, CSV, _csv_records(reader, text, path), columns, used, note, handle=raw)


class _TextReader:
    """Lines of a binary file decoded with ``encoding``; a decoding error names the line."""

    def __init__(self, raw: IO[bytes], encoding: str, path: str) -> None:
        self._lines = iter(raw)
        self._decode = codecs.getdecoder(encoding)
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._first = encoding == "utf-8-sig"
        self.path = path
        self.line = 0

    def __iter__(self) -> _TextReader:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line += 1
        try:
            text: str = self._decode(line)[0]
        except UnicodeDecodeError as err:
            raise ImportFailed(
                f"{self.path}: line {self.line} is not valid {self.encoding} (byte "
                f"{err.start + 1} of the line); give the right --encoding"
            ) from None
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")
        return text


def _csv_records(reader: Any, text: _TextReader, path: str) -> Iterator[tuple[int, list[str]]]:
    start = text.line + 1
    try:
        for row in reader:
            if row and any(row):
                yield start, row
            start = text.line + 1
    except csv.Error as err:
        raise ImportFailed(f"{path}: line {text.line}: not valid CSV: {err}") from err


# --- JSON ----------------------------------------------------------------------------------


class JsonStream:
    """A JSON document read piece by piece: top-level values one at a time, arrays element by
    element, with about one buffer of the file in memory."""

    def __init__(self, fh: IO[bytes], path: str, encoding: str = "utf-8-sig") -> None:
        self._fh = fh
        self._path = path
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._dropped = 0  # characters dropped from the front of the buffer
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._fh.read(_SAMPLE)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as err:
            raise ImportFailed(f"{self._path} is not valid UTF-8 text: {err.reason}") from None
        if self._pos > _SAMPLE:
            self._dropped += self._pos
            self._buf = self._buf[self._pos :]
            self._pos = 0
        self._buf += text
        if not data:
            self._eof = True
        return True

    def _fail(self, message: str) -> ImportFailed:
        return ImportFailed(
            f"{self._path} is not valid JSON: {message} at character {self._dropped + self._pos}"
        )

    def peek(self) -> str:
        """The next non-blank character ('' at the end)."""
        while True:
            m = _WS.match(self._buf, self._pos)
            self._pos = m.end() if m else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self._fail(f"expected {char!r}")
        self._pos += 1

    def value(self) -> Any:
        """The next complete JSON value."""
        self.peek()
        while True:
            try:
                obj, end = self._json.raw_decode(self._buf, self._pos)
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return obj
            except json.JSONDecodeError as err:
                if self._eof:
                    self._pos = err.pos
                    raise self._fail(err.msg) from None
            self._fill()  # the value may go on in the next buffer

    def items(self) -> Iterator[Any]:
        """The elements of the array starting here."""
        self.expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            char = self.peek()
            self._pos += 1
            if char == "]":
                return
            if char != ",":
                self._pos -= 1
                raise self._fail("expected ',' or ']' after an array element")

    def members(self) -> Iterator[str]:
        """The member names of the object starting here; after each name the caller reads
        its value (``value()`` or ``items()``)."""
        self.expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self._fail("expected a member name")
            self.expect(":")
            yield key
            char = self.peek()
            self._pos += 1
            if char == "}":
                return
            if char != ",":
                self._pos -= 1
                raise self._fail("expected ',' or '}' after a member")


def _open_json(path: str, kind: str, encoding: str) -> Source:
    enc = "utf-8-sig" if encoding in ("auto", "utf-8", "utf8", "utf-8-sig") else encoding
    try:
        codecs.lookup(enc)
    except LookupError as err:
        raise ImportFailed(f"unknown encoding {encoding!r}") from err
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except OSError as err:
        raise ImportFailed(f"cannot read {path}: {err.strerror}") from err
    stream = JsonStream(raw, path, enc)
    source = Source(path, kind, iter(()), encoding=enc, handle=raw)
    try:
        first = stream.peek()
        if first == "[":
            source.records = _numbered(stream.items())
        elif first == "{" and kind == GEOJSON:
            source.records, source.crs = _features(stream, path)
        elif first == "{":
            source.records = _numbered(iter([stream.value()]))
        else:
            what = "a FeatureCollection" if kind == GEOJSON else "an array of entities"
            raise ImportFailed(f"{path}: expected {what} (the file starts with {first!r})")
    except BaseException:
        raw.close()
        raise
    return source


def _numbered(items: Iterator[Any]) -> Iterator[tuple[int, Any]]:
    yield from enumerate(items, 1)


def _features(stream: JsonStream, path: str) -> tuple[Iterator[tuple[int, Any]], str | None]:
    """Read a FeatureCollection's members up to ``features`` (its "crs" when given first);
    the features then stream."""
    members = stream.members()
    crs: str | None = None
    for key in members:
        if key == "features":
            return _numbered(_then_close(stream.items(), members)), crs
        value = stream.value()
        if key == "type" and value not in ("FeatureCollection",):
            if value == "Feature":
                raise ImportFailed(f"{path}: a single Feature; wrap it in a FeatureCollection")
            raise ImportFailed(f"{path}: type {value!r}, expected a FeatureCollection")
        if key == "crs":
            crs = _crs_name(value)
    raise ImportFailed(f"{path}: the FeatureCollection has no features array")


def _then_close(items: Iterator[Any], members: Iterator[str]) -> Iterator[Any]:
    yield from items
    for _ in members:  # the members after "features" (read to check the document ends well)
        return


def _crs_name(value: Any) -> str | None:
    """The name in a GeoJSON 2008 ``crs`` member ({"type": "name", "properties": {"name":
    "urn:ogc:def:crs:EPSG::5186"}})."""
    if isinstance(value, dict):
        props = value.get("properties")
        if isinstance(props, dict) and isinstance(props.get("name"), str):
            return str(props["name"])
    return None
