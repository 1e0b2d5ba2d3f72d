"""Race tests: the same work in two threads, let go at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_the_same_moment(work: Callable[[Callable[[], None]], object], times: int = 2) -> list:
    """Run `work(wait)` in `times` threads; each calls `wait()` when ready, and
    all go on together from there. Their results, in the order they finished;
    an exception in a thread is raised here."""
    barrier = threading.Barrier(times)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(work(barrier.wait))
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            barrier.abort()
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
