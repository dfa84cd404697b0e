"""Work shared with forked copies: every item done once, whatever the copies do."""

import multiprocessing
import os
import signal

import pytest

from app.services.results import parallel
from app.services.results.parallel import shared

ITEMS = [f"place-{i:03d}" for i in range(40)]


def squared(item: str) -> tuple[int, int]:
    number = int(item.rsplit("-", 1)[1])
    return number * number, os.getpid()


def collected(work: object, forks: int) -> dict[int, tuple[int, int]]:
    results: dict[int, tuple[int, int]] = {}
    for position, result in shared(work, ITEMS, forks):  # type: ignore[arg-type]
        assert position not in results  # each item once
        results[position] = result
    return results


@pytest.mark.parametrize("forks", [0, 1, 2, 3])
def test_every_item_is_done_once_with_its_own_result(forks: int) -> None:
    results = collected(squared, forks)
    assert sorted(results) == list(range(len(ITEMS)))
    assert all(results[i][0] == i * i for i in results)
    assert not multiprocessing.active_children()


def test_copies_do_part_of_the_work() -> None:
    here = os.getpid()
    pids = {pid for _, pid in collected(_slow_squared, 2).values()}
    assert here in pids and len(pids) > 1


def test_a_copy_that_fails_leaves_its_items_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    here = os.getpid()

    def fails_in_a_copy(item: str) -> tuple[int, int]:
        if os.getpid() != here:
            raise RuntimeError("a copy fails")
        return squared(item)

    results = collected(fails_in_a_copy, 2)
    assert sorted(results) == list(range(len(ITEMS)))
    assert {pid for _, pid in results.values()} == {here}
    assert "a forked copy failed" in caplog.text


def test_a_copy_killed_midway_leaves_what_it_took_to_this_process() -> None:
    here = os.getpid()

    def dies_in_a_copy(item: str) -> tuple[int, int]:
        if os.getpid() != here and item.endswith("7"):
            os.kill(os.getpid(), signal.SIGKILL)  # after taking this item
        return squared(item)

    results = collected(dies_in_a_copy, 1)
    assert sorted(results) == list(range(len(ITEMS)))
    assert all(results[i][0] == i * i for i in results)


def test_an_error_here_ends_the_copies_too() -> None:
    here = os.getpid()

    def fails_here(item: str) -> tuple[int, int]:
        if os.getpid() == here and item.endswith("5"):
            raise ValueError("this process fails")
        return _slow_squared(item)

    with pytest.raises(ValueError, match="this process fails"):
        collected(fails_here, 2)
    assert not multiprocessing.active_children()


def test_no_copy_for_a_single_item() -> None:
    assert list(shared(squared, ["place-007"], 3)) == [(0, (49, os.getpid()))]
    assert list(shared(squared, [], 3)) == []


def test_copies_are_one_fewer_than_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    for cpus, copies in ((1, 0), (2, 1), (4, 3), (16, parallel.MAX_COPIES)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert parallel.copies() == copies
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert parallel.copies() == 0


def _slow_squared(item: str) -> tuple[int, int]:
    # Long enough that no one process takes every item before the others start.
    sum(range(200_000))
    return squared(item)
