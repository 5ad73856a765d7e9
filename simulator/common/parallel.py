"""Independent tasks in worker processes: each worker's state made once, results yielded as tasks finish.

`as_finished(work, tasks, jobs, make_state, args)` calls `work(state, task)` for every task, where `state` is
`make_state(*args)`, made once per worker process (a planner, a runner: whatever the tasks of one process
share) and not sent with each task. With one job, or one task, everything runs in this process, in order. A
stop (Ctrl-C, an error) cancels the tasks not started and stops the running ones. `work` and `make_state` must be module-level functions
(or classes), so that a worker process can find them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed

_state: dict = {}      # in a worker process: its state, made once by _init


def as_finished(work: Callable, tasks: list, jobs: int, make_state: Callable, args: tuple = ()) -> Iterator[tuple[int, object]]:
    """(index of the task, its result) for every task, as each finishes."""
    if jobs <= 1 or len(tasks) <= 1:
        state = make_state(*args)
        for index, task in enumerate(tasks):
            yield index, work(state, task)
        return
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_init, initargs=(make_state, args))
    try:
        futures = {pool.submit(_run, work, task): index for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:       # Ctrl-C, an error, the caller stopping: no task left running
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _init(make_state: Callable, args: tuple) -> None:
    """A worker's start: its state; Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _state["state"] = make_state(*args)


def _run(work: Callable, task):
    return work(_state["state"], task)
