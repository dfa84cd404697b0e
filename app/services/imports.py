"""`pulse import`: responses from a CSV file, through the same checks and writes as the API."""

import csv
import hashlib
import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from queue import Queue
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app.schemas.responses import ResponseCreate
from app.services.responses import (
    ExternalIdConflict,
    Prepared,
    Problem,
    References,
    prepare,
    store,
)
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
# Lines checked at a time: few enough for their objects to stay in the CPU's cache.
CHECKED = 250
# Rows written at a time: enough for the database's round trips to cost little.
WRITTEN = 5000
MAX_REPORTED = 50
# Whole scores, the usual answers, looked up: parsing a float costs more than the rest of a cell.
WHOLE_SCORES = {str(n): float(n) for n in range(1, 6)}
ITEMS = TypeAdapter(list[ResponseCreate])


@dataclass(frozen=True, slots=True)
class LineError:
    """A problem with one line of the file (its number as an editor shows it)."""

    line: int
    column: str
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "header"
        return (
            f"{where}, {self.column}: {self.detail}" if self.column else f"{where}: {self.detail}"
        )


@dataclass
class ImportReport:
    """What an import did, or why it did nothing."""

    rows: int = 0
    created: int = 0
    already_stored: int = 0
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, error: LineError) -> None:
        with self._lock:
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED:
                self.errors.append(error)


class CountingReader(io.RawIOBase):
    """A binary stream that tells how many bytes have been read, for the progress bar."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self.raw = raw
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.on_read(len(data))
        return len(data)


def file_digest(raw: IO[bytes]) -> str:
    """SHA-256 of a whole file, read in blocks; the stream is rewound."""
    digest = hashlib.sha256()
    for block in iter(lambda: raw.read(1 << 20), b""):
        digest.update(block)
    raw.seek(0)
    return digest.hexdigest()


def _header_problem(header: list[str]) -> str | None:
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    problems = [f"unknown column '{name}'" for name in unknown]
    problems += [f"missing column '{name}'" for name in missing]
    if not set(DIMENSIONS) & set(header):
        problems.append("no score column")
    if len(set(header)) != len(header):
        problems.append("a column is repeated")
    if not problems:
        return None
    return "; ".join(problems) + f" (columns: {', '.join(COLUMNS)})"


def _column(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] == "scores" and len(loc) > 1:
        return str(loc[1])
    return str(loc[0]) if loc else ""


def _chunks(
    text: IO[str], report: ImportReport, digest: str
) -> Iterator[list[tuple[int, ResponseCreate]]]:
    """Validated items in chunks, with their line numbers; bad lines go into the report."""
    reader = csv.reader(text)
    header = [name.strip() for name in next(reader, [])]
    problem = _header_problem(header)
    if problem is not None:
        report.add(LineError(0, "", problem))
        return
    where = {name: header.index(name) for name in header}
    scored = [(d, where[d]) for d in DIMENSIONS if d in where]
    optional = [(name, where[name]) for name in OPTIONAL if name in where]
    pulse_at, team_at = where["pulse"], where["team"]
    lines: list[int] = []
    items: list[dict[str, Any]] = []
    errors: list[LineError] = []
    for cells in reader:
        if len(items) + len(errors) >= CHECKED:
            yield _validated(lines, items, errors, report)
            lines, items, errors = [], [], []
        line = reader.line_num
        if len(cells) != len(header):
            errors.append(LineError(line, "", f"{len(cells)} cells for {len(header)} columns"))
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
                    scores[dimension] = cell  # refused by validation, with its message
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
    if items or errors:
        yield _validated(lines, items, errors, report)


def _validated(
    lines: list[int], items: list[dict[str, Any]], errors: list[LineError], report: ImportReport
) -> list[tuple[int, ResponseCreate]]:
    """The items that pass validation, with their line numbers; the others go into the report.

    ``errors`` holds the problems already found in the same stretch of lines.
    """
    report.rows += len(items) + len(errors)
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
                errors.extend(LineError(line, _column(e["loc"]), e["msg"]) for e in exc.errors())
    for error in sorted(errors, key=lambda e: e.line):
        report.add(error)
    return valid


def import_responses(
    session: Session,
    system_id: int,
    raw: IO[bytes],
    now: datetime,
    on_read: Callable[[int], None] = lambda _n: None,
) -> ImportReport:
    """Check every line and store the responses, all or none (the caller commits or not).

    The file is read as a stream, so memory stays flat whatever its length. One thread
    parses and checks the next chunk while this one writes the last: the checks hold the
    interpreter, the writes mostly wait on the database, so the two overlap.
    """
    report = ImportReport()
    digest = file_digest(raw)
    # Large reads: the progress bar is told once a megabyte, not once every 8 kB.
    text = io.TextIOWrapper(
        io.BufferedReader(CountingReader(raw, on_read), buffer_size=1 << 20),
        encoding="utf-8-sig",
        newline="",
    )
    refs = References(session, system_id)
    refs.load_all()  # the checking thread must not use the session the writes use
    ready: Queue[Prepared | BaseException | None] = Queue(maxsize=2)
    stop = threading.Event()

    def check() -> None:
        try:
            for batch in _batches(_chunks(text, report, digest), refs, now):
                if stop.is_set():
                    return
                ready.put(batch)
        except BaseException as exc:  # handed to the writing thread, which raises it
            ready.put(exc)
        finally:
            ready.put(None)

    checker = threading.Thread(target=check, name="import-check", daemon=True)
    with _prompt_handovers():
        checker.start()
        try:
            while (prepared := ready.get()) is not None:
                if isinstance(prepared, BaseException):
                    raise prepared
                _write(session, refs.system_id, prepared, report)
        finally:
            stop.set()
            while checker.is_alive():  # let a checker blocked on a full queue finish
                while not ready.empty():
                    ready.get_nowait()
                checker.join(timeout=0.05)
    if report.rows == 0 and not report.error_count:
        report.add(LineError(0, "", "the file has no rows"))
    return report


def _batches(
    chunks: Iterator[list[tuple[int, ResponseCreate]]], refs: References, now: datetime
) -> Iterator[Prepared]:
    """The chunks prepared, gathered into batches of up to WRITTEN lines."""
    batch, lines, size = Prepared([], [], [], []), 0, CHECKED
    seen: dict[str, str] = {}
    for chunk in chunks:
        batch.extend(prepare(refs, chunk, now, may_backfill=True, seen=seen))
        lines += len(chunk)
        if lines >= size:
            yield batch
            # The first batches are small, so that the database starts writing early.
            batch, lines, size = Prepared([], [], [], []), 0, min(2 * size, WRITTEN)
            seen = {}
    yield batch


@contextmanager
def _prompt_handovers() -> Iterator[None]:
    """Let a waiting thread take the interpreter within 0.5 ms rather than 5 ms."""
    # The writing thread waits on the database several times a batch, and each time it
    # must then wait for the busy checking thread to hand the interpreter back; meanwhile
    # the database has nothing to do (measured: a third of the import's time).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _write(session: Session, system_id: int, prepared: Prepared, report: ImportReport) -> None:
    problems: list[Problem] = [*prepared.invalid, *prepared.refused]
    report.already_stored += prepared.repeats
    if not problems and not report.error_count:
        try:
            stored = store(session, system_id, prepared.rows, prepared.indices)
        except ExternalIdConflict as clash:
            problems = clash.clashes
        else:
            report.created += stored.created
            report.already_stored += stored.already_stored
    for problem in problems:
        report.add(LineError(problem.index, problem.field, problem.detail))
