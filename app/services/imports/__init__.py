"""`pulse import`: responses from a CSV file, through the same checks and writes as the API.

The file is read once to count its rows, then streamed: ``csvfile`` reads and validates it
a chunk at a time, this module checks the chunks' references and stores them in batches,
and ``messages`` says every problem in the file's own terms. Any problem, and nothing is
stored: the caller rolls back.
"""

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from queue import Queue
from typing import IO

from sqlalchemy.orm import Session

from app.services.imports import csvfile, messages
from app.services.imports.csvfile import COLUMNS, Chunk, chunks, survey, value
from app.services.imports.report import ImportReport, LineError, Progress, Silent
from app.services.responses import (
    EXTERNAL_ID,
    ExternalIdConflict,
    Prepared,
    Problem,
    References,
    prepare,
    store,
)

__all__ = ["COLUMNS", "ImportReport", "LineError", "Progress", "import_responses"]

# Rows written at a time: enough for the database's round trips to cost little.
WRITTEN = 5000


@dataclass
class Batch:
    """Rows ready to store, and the problems of the same stretch of lines, in line order."""

    prepared: Prepared = field(default_factory=lambda: Prepared([], [], [], []))
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0


def import_responses(
    session: Session,
    system_id: int,
    raw: IO[bytes],
    now: datetime,
    progress: Progress | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Check every line and store the responses, all or none (the caller commits).

    The file is read as a stream, so memory stays flat whatever its length. One thread
    parses and checks the next chunk while this one writes the last: the checks hold the
    interpreter, the writes mostly wait on the database, so the two overlap. Problems reach
    the report from this thread only, in the order of the lines.
    """
    progress = progress or Silent()
    report = report or ImportReport()
    digest, estimate = survey(raw)
    progress.expect(estimate)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    refs = References(session, system_id)
    refs.load_all()  # the checking thread must not use the session the writes use
    ready: Queue[Batch | BaseException | None] = Queue(maxsize=2)
    stop = threading.Event()
    lines = 0

    def check() -> None:
        nonlocal lines
        try:
            for batch in _batches(chunks(text, digest, progress), refs, now, report):
                if stop.is_set():
                    return
                lines += batch.lines
                ready.put(batch)
        except BaseException as exc:  # handed to the writing thread, which raises it
            ready.put(exc)
        finally:
            ready.put(None)

    checker = threading.Thread(target=check, name="import-check", daemon=True)
    # A savepoint: a file with a problem leaves nothing behind, whatever the caller does.
    savepoint = session.begin_nested()
    with savepoint, _prompt_handovers():
        checker.start()
        try:
            while (batch := ready.get()) is not None:
                if isinstance(batch, BaseException):
                    raise batch
                _write(session, refs.system_id, batch, report, progress)
        finally:
            stop.set()
            while checker.is_alive():  # let a checker blocked on a full queue finish
                while not ready.empty():
                    ready.get_nowait()
                checker.join(timeout=0.05)
        if report.error_count:
            savepoint.rollback()
            report.created = report.already_stored = 0
    text.detach()  # the caller's file stays open
    progress.expect(lines)
    if report.rows == 0 and not report.error_count:
        report.add(LineError(0, "", "", "the file has a header but no rows"))
    return report


def _batches(
    chunks: Iterator[Chunk], refs: References, now: datetime, report: ImportReport
) -> Iterator[Batch]:
    """The chunks' references checked, gathered into batches of up to WRITTEN lines."""
    batch, size = Batch(), csvfile.CHECKED
    seen: dict[str, str] = {}
    for chunk in chunks:
        report.rows += chunk.rows
        prepared = prepare(refs, chunk.valid, now, may_backfill=True, seen=seen)
        batch.prepared.extend(prepared)
        problems = [
            *_explained(prepared.invalid, chunk),
            *_explained(prepared.refused, chunk, refused=True),
        ]
        batch.errors += sorted([*chunk.errors, *problems], key=lambda e: e.line)
        batch.lines += chunk.lines
        if batch.lines >= size:
            yield batch
            # The first batches are small, so that the database starts writing early.
            batch, size, seen = Batch(), min(2 * size, WRITTEN), {}
    yield batch


def _explained(problems: list[Problem], chunk: Chunk, refused: bool = False) -> list[LineError]:
    """The problems found in the references and times of a chunk's lines, in its terms."""
    out = []
    for problem in problems:
        column = problem.field
        text = value(chunk.cells, chunk.where, problem.index, column)
        if refused:
            said = messages.not_open(text)
        elif column == "submitted_at":
            said = messages.in_the_future(text)
        elif column == "external_id":
            said = messages.repeated_id(text)
        else:
            said = messages.unknown(column, text)
        out.append(LineError(problem.index, column, text, said))
    return out


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


def _write(
    session: Session, system_id: int, batch: Batch, report: ImportReport, progress: Progress
) -> None:
    # The good rows are stored even after a problem, all to be rolled back: a later line
    # clashing with one of them is then found too, and every problem listed in one go.
    prepared, errors = batch.prepared, batch.errors
    report.already_stored += prepared.repeats
    try:
        stored = store(session, system_id, prepared.rows, prepared.indices)
    except ExternalIdConflict as clash:
        ids = {i: row[EXTERNAL_ID] for i, row in zip(prepared.indices, prepared.rows, strict=True)}
        found = [
            LineError(p.index, p.field, ids[p.index], messages.stored_id(ids[p.index]))
            for p in clash.clashes
        ]
        errors = sorted([*errors, *found], key=lambda e: e.line)
    else:
        report.created += stored.created
        report.already_stored += stored.already_stored
    progress.stored(batch.lines)
    if errors:
        progress.halted()
    for error in errors:
        report.add(error)
