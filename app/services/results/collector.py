"""Python's cyclic garbage collector, paused while a publication computes and writes.

A publication at 2,000 teams makes millions of objects that live until it ends: profiles,
arrays, the numbers of some 125,000 cells, their rows. Each of the collector's passes
meanwhile walks every one of them, yet finds almost nothing to free (reference counting
frees the rest): they took 1.5 to 2.5 s of a 10 to 12 s publication. So the collector is
off while one runs. It is one switch for the whole process: publications in two threads
at once (a read computing what the publisher has not) keep it off until the last ends,
and it is turned back on only if it was on before the first began.
"""

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_guard = threading.Lock()
_running = 0  # blocks under way that paused it
_resume = False  # whether it was on when the first of them began

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off for the block (and back as it was once no block runs)."""
    global _running, _resume
    with _guard:
        if _running == 0:
            _resume = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _guard:
            _running -= 1
            if _running == 0 and _resume:
                gc.enable()


def collector_paused(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run with the cyclic collector ``paused``."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return function(*args, **kwargs)

    return run
