"""Work shared with forked copies of this process: a first publication's places.

A publication's places are decided apart from each other (DESIGN 3.3: a place's cells are
sums of its own teams' respondents only), so they can be decided side by side. The
standard library's pools send each task's function and inputs to their workers by pickle;
here the inputs are a publication's whole snapshot and layouts, which a forked copy of the
process already holds. So the copies are forked when the work starts, and they and this
process take the items one at a time; a copy sends back each result as it is done, and
this process takes up any item a copy did not send back (it failed, or was killed), so
the answer never depends on the copies. Copies read nothing from, and write
nothing to, the database: they compute and send through a pipe, then leave at once
(``os._exit``), running no clean-up of what they inherited.
"""

import logging
import multiprocessing
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)

MAX_COPIES = 3


def copies() -> int:
    """How many copies to fork beside this process: one fewer than its CPUs (at most 3),
    and none where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return max(0, min(MAX_COPIES, len(os.sched_getaffinity(0)) - 1))


def shared(
    work: Callable[[Item], Result], items: Sequence[Item], forks: int
) -> Iterator[tuple[int, Result]]:
    """``work`` of each item as (position, result), each once, in the order they are done.

    With ``forks`` copies, each of them and this process takes the next item not taken
    until none is left (from a pipe of positions: a read of 4 bytes from a pipe is never
    split), so whichever is quicker does more; this process yields its own results as it
    makes them, and between them those the copies have sent (by pickle).
    """
    forks = min(forks, len(items) - 1)
    if forks <= 0:
        for position, item in enumerate(items):
            yield position, work(item)
        return
    taken, queue = os.pipe()
    os.set_blocking(queue, False)
    try:
        data = b"".join(_POSITION.pack(position) for position in range(len(items)))
        for start in range(0, len(data), _BLOCK):  # what the pipe cannot hold is done here
            os.write(queue, data[start : start + _BLOCK])
    except BlockingIOError:
        pass
    finally:
        os.close(queue)  # so an empty pipe reads as the end, in every process
    os.set_blocking(taken, False)
    context = multiprocessing.get_context("fork")
    children: list[tuple[Any, Connection]] = []
    done: set[int] = set()
    try:
        for _ in range(forks):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_copy, args=(work, items, taken, writer), daemon=True)
            process.start()
            writer.close()
            children.append((process, reader))
        readers = [reader for _, reader in children]
        while (mine := _take(taken)) is not None:
            yield mine, work(items[mine])
            done.add(mine)
            yield from _arrived(readers, done, block=False)
        yield from _arrived(readers, done, block=True)
        for process, _ in children:
            process.join()  # its pipe is closed: it has left, or is leaving
        if any(process.exitcode for process, _ in children):
            log.warning("a forked copy failed: this process does what it did not send back")
        for left, item in enumerate(items):
            if left not in done:
                yield left, work(item)
    finally:
        os.close(taken)
        for process, reader in children:
            reader.close()
            if process.is_alive():
                process.kill()
            process.join()


_POSITION = struct.Struct("<I")
_BLOCK = 4096  # a write of at most PIPE_BUF bytes is whole or not at all


def _take(taken: int) -> int | None:
    """The next position no process has taken, or None when none is left."""
    try:
        data = os.read(taken, _POSITION.size)
    except BlockingIOError:
        return None
    return _POSITION.unpack(data)[0] if len(data) == _POSITION.size else None


def _arrived(readers: list[Connection], done: set[int], block: bool) -> Iterator[tuple[int, Any]]:
    """What the copies have sent (all of it, until each has closed its pipe, if ``block``)."""
    while readers:
        ready = wait(readers, None if block else 0)
        if not ready:
            return
        for reader in ready:
            assert isinstance(reader, Connection)
            try:
                position, result = reader.recv()
            except EOFError:  # the copy is done (or gone)
                readers.remove(reader)
                continue
            done.add(position)
            yield position, result


def _copy(work: Callable[[Any], Any], items: Sequence[Any], taken: int, writer: Connection) -> None:
    """In a forked copy: take items until none is left, send each result, and leave."""
    code = 0
    try:
        while (position := _take(taken)) is not None:
            writer.send((position, work(items[position])))
    except BaseException:  # the parent does what the copy did not send
        code = 1
    finally:
        writer.close()
        os._exit(code)
