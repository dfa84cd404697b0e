"""The cyclic garbage collector is off while a publication runs, and back as it was after."""

import gc
import threading
from collections.abc import Iterator

import pytest

from app.services.results import collector
from app.services.results.collector import collector_paused, paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_it_is_off_within_and_on_after() -> None:
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("a publication failed")
    assert gc.isenabled()


def test_it_stays_off_after_if_it_was_off_before() -> None:
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()


def test_two_threads_at_once_keep_it_off_until_the_last_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with paused():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first has ended: still off for this one
        seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False, True]
    assert collector._running == 0


def test_a_function_wrapped_runs_with_it_off() -> None:
    @collector_paused
    def state() -> bool:
        return gc.isenabled()

    assert state() is False
    assert gc.isenabled()
