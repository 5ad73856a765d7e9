"""as_finished: every task's result once, the same in a pool as in this process, each worker's state made once."""

from __future__ import annotations

import os
import uuid

from simulator.common.parallel import as_finished


def make_state(scale):
    return {"scale": scale, "id": uuid.uuid4().hex, "pid": os.getpid()}


def work(state, task):
    return task * state["scale"], state["id"], state["pid"]


def test_a_pool_gives_every_result_once_with_one_state_per_worker():
    tasks = list(range(12))
    serial = dict(as_finished(work, tasks, 1, make_state, (3,)))
    pooled = dict(as_finished(work, tasks, 2, make_state, (3,)))
    assert sorted(serial) == sorted(pooled) == tasks
    assert [serial[i][0] for i in tasks] == [pooled[i][0] for i in tasks] == [3 * t for t in tasks]
    assert len({s[1] for s in serial.values()}) == 1 and {s[2] for s in serial.values()} == {os.getpid()}
    states = {(p[1], p[2]) for p in pooled.values()}
    assert 1 <= len(states) <= 2 and len({pid for _id, pid in states}) == len(states)   # one state per process
    assert os.getpid() not in {pid for _id, pid in states}
