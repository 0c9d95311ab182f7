"""Decoding and parsing the text of data files, with errors that name the file, the row and the field.

Shared by every loader of a user-given file: UTF-8 decoding (``decode_utf8``), JSON lists and
JSON lines (``parse_json_rows``, ``parse_json_lines``) and CSV/TSV (``csv_rows``). Pure: bytes or text in,
rows out.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from factgap.data.schema import DataValidationError

Row = int | str | None
# where the bytes that are not UTF-8 sit: (row, field) of the first value holding one, or None
Locator = Callable[[str], tuple[Row, str | None] | None]

_ESCAPED = re.compile("[\udc80-\udcff]")  # the bytes ``surrogateescape`` could not decode


def decode_utf8(raw: bytes, source: str, locate: Locator | None = None) -> str:
    """UTF-8 text of a data file (a leading byte-order mark is dropped).

    Text that is not UTF-8 (a Latin-1 or Windows-1252 export) fails naming the first bad byte: its
    value, byte offset, line and column, and, with ``locate``, the row and field that hold it.
    ``locate`` gets the text with the bad bytes kept as lone surrogates (``surrogateescape``)
    and parses it as the loader does (``first_undecodable`` finds the value).
    """
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = start + err.start
        line = raw.count(b"\n", 0, offset) + 1
        column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        found = None
        if locate is not None:
            try:
                found = locate(raw[start:].decode("utf-8", "surrogateescape"))
            except DataValidationError:
                found = None  # the bad bytes break the file's structure: the line is all there is to say
        row, field = found if found else (None, None)
        where = f" in field '{field}'" if field else ""
        raise DataValidationError(
            source,
            row,
            f"not UTF-8 text{where}: byte 0x{raw[offset]:02x} at byte offset "
            f"{offset} (line {line}, column {column}); save the file as UTF-8",
        ) from None


def first_undecodable(
    rows: Iterable[tuple[Row, Any]], names: Sequence[str] | None = None
) -> tuple[Row, str | None] | None:
    """(row, field) of the first value (or key) holding a byte that was not UTF-8; None when none does.

    ``rows``: (row, record) pairs; a record is an object (fields by key), a list (fields by ``names``,
    or "cell N") or a single string (field ``names[0]``)."""
    for row, record in rows:
        if isinstance(record, Mapping):
            items = [(str(k), (k, v)) for k, v in record.items()]
        elif isinstance(record, str):
            items = [(names[0] if names else "value", record)]
        elif isinstance(record, (list, tuple)):
            items = [(names[i] if names and i < len(names) else f"cell {i + 1}", v) for i, v in enumerate(record)]
        else:
            continue
        for field, value in items:
            if _holds_escaped(value):
                return row, field
    return None


def _holds_escaped(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_ESCAPED.search(value))
    if isinstance(value, Mapping):
        return any(_holds_escaped(k) or _holds_escaped(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_escaped(v) for v in value)
    return False


# ----------------------------------------------------------------------------------------------
# JSON


def json_lines(text: str) -> Iterator[tuple[int, str]]:
    """(0-based line number, line) of every non-blank line. Split on newlines only: a JSON string may
    hold U+2028 and other characters that ``str.splitlines`` would break a line at."""
    for number, line in enumerate(text.split("\n")):
        if line.strip():
            yield number, line


def json_problem(err: json.JSONDecodeError, line: int) -> str:
    """A JSON syntax error as line, column and what broke (Python's message ends in a dangling "starting at")."""
    return f"not valid JSON (line {line}, column {err.colno}): {err.msg.removesuffix(' starting at')}"


def looks_truncated(text: str, err: json.JSONDecodeError) -> bool:
    """Whether the JSON ``text`` breaks because it ends early (at its end, or inside a string)."""
    # a string left open runs to the end: raw line breaks inside strings are errors of their own
    return err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated string")


def parse_json_lines(text: str, source: str, row_is_line: bool = False) -> list[tuple[int, Any]]:
    """(row, value) of every non-blank line of JSON-lines text. A row is the line's index among the
    non-blank lines, or with ``row_is_line`` its 0-based line number. A syntax error names the row, the
    line and column, and says when the file ends inside that row (a truncated file)."""
    lines = list(json_lines(text))
    rows = []
    for index, (number, line) in enumerate(lines):
        row = number if row_is_line else index
        try:
            rows.append((row, json.loads(line)))
        except json.JSONDecodeError as err:
            ends = index == len(lines) - 1 and looks_truncated(line, err)
            raise DataValidationError(
                source,
                row,
                json_problem(err, number + 1) + ("; the file ends inside this row (truncated?)" if ends else ""),
            ) from err
    return rows


def parse_json_rows(text: str, source: str) -> list[Any]:
    """A JSON list, or JSON lines (one value per non-blank line). A syntax error names the row it
    breaks (list element, or non-blank line counted from 0), the line and column, and says when the
    file ends there (a truncated file)."""
    if not text.strip():
        return []  # an empty file holds no rows; the loader says whether that is an error
    if not text.lstrip().startswith("["):
        return [value for _, value in parse_json_lines(text, source)]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        row = broken_json_element(text)
        ends = looks_truncated(text, err)
        raise DataValidationError(
            source,
            row,
            json_problem(err, err.lineno) + ("; the file ends before the list is closed (truncated?)" if ends else ""),
        ) from err
    if not isinstance(data, list):
        raise DataValidationError(source, None, f"expected a JSON list of rows, got {type(data).__name__}")
    return data


def broken_json_element(text: str) -> int | None:
    """0-based index of the first list element that does not parse (None if the list itself is broken)."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"\s*")
    pos = ws.match(text, 0).end()
    if not text.startswith("[", pos):
        return None
    pos = ws.match(text, pos + 1).end()
    if text.startswith("]", pos):
        return None
    index = 0
    while True:
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return index
        pos = ws.match(text, pos).end()
        if text.startswith(",", pos):
            pos = ws.match(text, pos + 1).end()
            index += 1
            continue
        return index if not text.startswith("]", pos) else None


# ----------------------------------------------------------------------------------------------
# CSV / TSV


def csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    """Records of CSV text as lists of cells (quoted cells may span lines)."""
    # the check on MAX_FIELD_CHARS names an oversized cell; the csv module's own limit would not
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
