"""What an import found and did, and how it tells its progress."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Problems kept for the screen; the others are counted (and all go to ``on_error``).
MAX_REPORTED = 50


@dataclass(frozen=True, slots=True)
class LineError:
    """A problem with one cell or line of the file, in the words of the file's author.

    ``line`` is the number an editor shows: 1 is the header, 0 the file as a whole.
    """

    line: int
    column: str
    value: str
    problem: str

    def __str__(self) -> str:
        if self.line == 0:
            return self.problem
        if self.line == 1:
            return f"header: {self.problem}"
        if self.column:
            return f"line {self.line}, {self.column}: {self.problem}"
        return f"line {self.line}: {self.problem}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing."""

    rows: int = 0
    created: int = 0
    already_stored: int = 0
    error_count: int = 0
    bad_lines: int = 0
    errors: list[LineError] = field(default_factory=list)
    by_column: Counter[str] = field(default_factory=Counter)
    # Told of every problem, in the order of the lines (the command writes --errors with it).
    on_error: Callable[[LineError], None] = field(default=lambda _e: None, repr=False)
    _last_line: int = field(default=-1, repr=False)

    def add(self, error: LineError) -> None:
        """Count a problem, keep it if there is room, and pass it on."""
        if error.line != self._last_line or error.line == 0:
            self.bad_lines += 1
        self._last_line = error.line
        self.error_count += 1
        self.by_column[error.column] += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(error)
        self.on_error(error)


class Progress(Protocol):
    """Told how far the import has gone, in rows; called from two threads."""

    def expect(self, rows: int) -> None:
        """The number of rows the file holds (first estimated, then counted)."""

    def checked(self, rows: int) -> None:
        """That many more rows have been checked."""

    def stored(self, rows: int) -> None:
        """That many more rows have been stored (or found stored already)."""

    def halted(self) -> None:
        """A problem was found: nothing will be stored, the checks go on to find the rest."""


class Silent:
    """Progress that goes nowhere."""

    def expect(self, rows: int) -> None:
        """Ignored."""

    def checked(self, rows: int) -> None:
        """Ignored."""

    def stored(self, rows: int) -> None:
        """Ignored."""

    def halted(self) -> None:
        """Ignored."""
