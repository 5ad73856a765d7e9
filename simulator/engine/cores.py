"""Core locks: how the cores of one processing unit are handed out to the tasks that run on them."""

from __future__ import annotations

from collections import deque

import simpy


class CoreLock:
    """Hands out sets of cores of one PU (a GPU is one "core": its in-order queue).

    A request is served as soon as all its cores are free and no earlier waiter wants any of them: requests
    on disjoint cores never hold each other up, and overlapping ones are served in arrival order.
    """

    def __init__(self, env: simpy.Environment):
        self._env = env
        self._busy: set[int] = set()
        self._waiting: deque[tuple[frozenset[int], simpy.Event]] = deque()

    def try_acquire(self, cores: tuple[int, ...]) -> bool:
        """Take the cores now if they are free and no waiter wants any of them."""
        if not self._busy.isdisjoint(cores) or (self._waiting and self.wanted(cores)):
            return False
        self._busy.update(cores)
        return True

    def free(self, cores: tuple[int, ...]) -> bool:
        """Nobody holds any of these cores, and no waiter wants them."""
        return self._busy.isdisjoint(cores) and not (self._waiting and self.wanted(cores))

    def wanted(self, cores: tuple[int, ...]) -> bool:
        """Does a waiter want any of these cores?"""
        return bool(self._waiting) and any(not wanted.isdisjoint(cores) for wanted, _ in self._waiting)

    def wait(self, cores: tuple[int, ...]) -> simpy.Event:
        """Queue for the cores; the event fires when they are handed over (they are then held)."""
        event = self._env.event()
        self._waiting.append((frozenset(cores), event))
        return event

    def release(self, cores: tuple[int, ...]) -> None:
        """Give the cores back and serve every waiter that can now go, in arrival order."""
        self._busy.difference_update(cores)
        if not self._waiting:
            return
        blocked: set[int] = set()      # cores wanted by earlier waiters that are still waiting
        still = deque()
        for wanted, event in self._waiting:
            if self._busy.isdisjoint(wanted) and blocked.isdisjoint(wanted):
                self._busy.update(wanted)
                event.succeed()
            else:
                blocked.update(wanted)
                still.append((wanted, event))
        self._waiting = still
