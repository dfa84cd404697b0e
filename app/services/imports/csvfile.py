"""Reading the CSV file: its separator, its header, and each line as an item to validate."""

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError

from app.schemas.responses import ResponseCreate
from app.services.imports import messages
from app.services.imports.report import LineError, Progress
from app.vocab import DIMENSIONS

COLUMNS = (
    "pulse",
    "team",
    *DIMENSIONS,
    "role",
    "profession",
    "organisation",
    "submitted_at",
    "external_id",
)
REQUIRED = ("pulse", "team")
OPTIONAL = ("role", "profession", "organisation", "submitted_at", "external_id")
DELIMITERS = (",", ";", "\t")
# Lines checked at a time: few enough for their objects to stay in the CPU's cache.
CHECKED = 250
# Whole scores, the usual answers, looked up: parsing a float costs more than the rest of a cell.
WHOLE_SCORES = {str(n): float(n) for n in range(1, 6)}
ITEMS = TypeAdapter(list[ResponseCreate])
NOT_UTF8 = "the file is not UTF-8 text: in Excel, save it as 'CSV UTF-8 (Comma delimited)'"


@dataclass(slots=True)
class Chunk:
    """A stretch of lines: the items that passed validation, and the problems of the others."""

    valid: list[tuple[int, ResponseCreate]]
    errors: list[LineError]
    # The cells of each line, to quote a value in a problem found later.
    cells: dict[int, list[str]]
    where: dict[str, int]
    # Lines read (for the progress), and rows among them (blank lines are not rows).
    lines: int
    rows: int


def survey(raw: IO[bytes]) -> tuple[str, int]:
    """SHA-256 of the whole file and its number of rows (lines after the header); rewound."""
    digest, newlines, last = hashlib.sha256(), 0, b"\n"
    for block in iter(lambda: raw.read(1 << 20), b""):
        digest.update(block)
        newlines += block.count(b"\n")
        last = block[-1:]
    raw.seek(0)
    # A quoted value spanning lines makes this a little high; the checks count exactly.
    return digest.hexdigest(), max(newlines - (last == b"\n"), 0)


def column_key(name: str) -> str:
    """A header name as matched: case, surrounding spaces, and spaces or hyphens for _ aside."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def delimiter(header: str) -> str:
    """The separator of the file, from its header line.

    No column name holds a comma, semicolon or tab, so the one the header line holds most
    is the separator. csv.Sniffer guesses from the data lines as well, where decimal
    commas ("4,5") in a semicolon file, or a single column, lead it astray.
    """
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_problems(header: list[str], delimiter: str) -> list[LineError]:
    """What is wrong with the header; empty when every column is known and none is missing."""
    keys = [column_key(name) for name in header]
    if len(header) == 1 and keys[0] not in COLUMNS:
        problem = "the file seems to have one column: separate its columns with , or ;"
        return [
            LineError(1, "", header[0], f"{header[0]} is not a header of the import; {problem}")
        ]
    problems = []
    for position, (name, key) in enumerate(zip(header, keys, strict=True), start=1):
        if not key:
            problems.append(
                LineError(1, "", "", f"column {position} has no name (a stray {delimiter}?)")
            )
        elif key not in COLUMNS:
            problems.append(
                LineError(
                    1,
                    name,
                    name,
                    f"{name} is not a column of the import (its columns: {', '.join(COLUMNS)})",
                )
            )
        elif keys.index(key) != position - 1:
            first = header[keys.index(key)]
            problems.append(LineError(1, name, name, f"{name} repeats the column {first}"))
    for name in REQUIRED:
        if name not in keys:
            problems.append(
                LineError(
                    1, name, "", f"the column {name} is missing: every file needs pulse and team"
                )
            )
    if not set(DIMENSIONS) & set(keys):
        problems.append(
            LineError(
                1,
                "",
                "",
                f"no score column: the file needs at least one of {', '.join(DIMENSIONS)}",
            )
        )
    return problems


def chunks(text: IO[str], digest: str, progress: Progress) -> Iterator[Chunk]:
    """The file's lines, validated a chunk at a time; the first chunk may be all problems."""
    try:
        first = text.readline()
    except UnicodeDecodeError:
        yield Chunk([], [LineError(0, "", "", NOT_UTF8)], {}, {}, 0, 0)
        return
    if not first.strip():
        yield Chunk(
            [], [LineError(0, "", "", "the file is empty: it has no header line")], {}, {}, 0, 0
        )
        return
    sep = delimiter(first)
    reader = csv.reader(chain([first], text), delimiter=sep)
    header = next(reader)
    problems = header_problems(header, sep)
    if problems:
        yield Chunk([], problems, {}, {}, 0, 0)
        return
    where = {column_key(name): at for at, name in enumerate(header)}
    scored = [(d, where[d]) for d in DIMENSIONS if d in where]
    optional = [(name, where[name]) for name in OPTIONAL if name in where]
    pulse_at, team_at, width = where["pulse"], where["team"], len(header)
    lines: list[int] = []
    items: list[dict[str, Any]] = []
    cells_of: dict[int, list[str]] = {}
    errors: list[LineError] = []
    read = blank = 0
    try:
        for cells in reader:
            if read >= CHECKED:
                yield _validated(lines, items, cells_of, errors, where, read, read - blank)
                progress.checked(read)
                lines, items, cells_of, errors, read, blank = [], [], {}, [], 0, 0
            read += 1
            line = reader.line_num
            if len(cells) != width:
                if any(cell.strip() for cell in cells):
                    problem = messages.cell_count(len(cells), width, sep)
                    errors.append(LineError(line, "", "", problem))
                else:
                    blank += 1
                continue
            if not cells[pulse_at].strip() and not any(cell.strip() for cell in cells):
                blank += 1  # a blank line, as spreadsheets leave at the end
                continue
            scores: dict[str, Any] = {}
            for dimension, at in scored:
                cell = cells[at].strip()
                if cell in WHOLE_SCORES:
                    scores[dimension] = WHOLE_SCORES[cell]
                elif cell:
                    try:
                        scores[dimension] = float(cell)
                    except ValueError:
                        scores[dimension] = cell  # refused by validation, then explained
            item: dict[str, Any] = {
                "pulse": cells[pulse_at].strip(),
                "team": cells[team_at].strip(),
                "scores": scores,
            }
            for name, at in optional:
                cell = cells[at].strip()
                if cell:
                    item[name] = cell
            # A line without an external_id gets one from the file and line, so importing the
            # same file again stores nothing twice.
            if "external_id" not in item:
                item["external_id"] = f"csv:{digest[:24]}:{line}"
            lines.append(line)
            items.append(item)
            cells_of[line] = cells
    except UnicodeDecodeError:
        errors.append(LineError(0, "", "", NOT_UTF8))
    yield _validated(lines, items, cells_of, errors, where, read, read - blank)
    progress.checked(read)


def value(cells: dict[int, list[str]], where: dict[str, int], line: int, column: str) -> str:
    """The text of a cell as the file has it (without surrounding spaces)."""
    at = where.get(column)
    return "" if at is None else cells[line][at].strip()


def _validated(
    lines: list[int],
    items: list[dict[str, Any]],
    cells: dict[int, list[str]],
    errors: list[LineError],
    where: dict[str, int],
    read: int,
    rows: int,
) -> Chunk:
    """The chunk's items validated; ``errors`` holds the problems already found in it."""
    try:
        # One call for the whole chunk costs less than one call per item.
        valid = list(zip(lines, ITEMS.validate_python(items), strict=True))
    except ValidationError:
        # Validated again one by one, to keep the good items and name every bad one.
        valid = []
        for line, item in zip(lines, items, strict=True):
            try:
                valid.append((line, ResponseCreate.model_validate(item)))
            except ValidationError as exc:
                for error in exc.errors():
                    column = _column(error["loc"])
                    text = value(cells, where, line, column)
                    errors.append(
                        LineError(line, column, text, messages.explain(column, text, error))
                    )
    return Chunk(valid, errors, cells, where, read, rows)


def _column(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] == "scores":
        return str(loc[1]) if len(loc) > 1 else ""
    return str(loc[0]) if loc else ""
