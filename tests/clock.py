"""A fake clock for the code that paces, backs off or reads the time: tests count the waits asked for and read the
clock's time instead of timing the machine, so a loaded machine can neither fail them nor slow them down."""

from __future__ import annotations

import asyncio
import math
import time
from types import ModuleType

_real_sleep = asyncio.sleep


class FakeClock:
    """`time.monotonic()`, `time.time()` and `asyncio.sleep()` for the modules it is installed in.

    Time passes only when code sleeps: `await sleep(s)` is recorded in `sleeps`, lets the other ready tasks run
    once, then moves the clock to at least `s` after the moment it was asked (never back). So a task that sleeps
    holds back the tasks that wait for it, as a real sleep would, and the test reads exact times."""

    def __init__(self, start: float = 1000.0, epoch: float = 1_700_000_000.0):
        self.start = self.now = start
        self.epoch = epoch  # what time.time() says at the start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.epoch + (self.now - self.start)

    def elapsed(self) -> float:
        return self.now - self.start

    async def sleep(self, seconds: float, result=None):
        self.sleeps.append(seconds)
        wake = self.now + seconds if seconds > 0 else self.now
        if seconds > 0:  # a real sleep always lets time pass, however little was asked for
            wake = max(wake, math.nextafter(self.now, math.inf))
        await _real_sleep(0)
        self.now = max(self.now, wake)
        return result

    def install(self, monkeypatch, *modules: ModuleType) -> FakeClock:
        """Make `time` and `asyncio` as each module names them read and sleep on this clock; everything else in
        them stays real. Only these modules are affected: the event loop and the test's own code keep real time."""
        for module in modules:
            shadowed = False
            if getattr(module, "time", None) is time:
                monkeypatch.setattr(module, "time", _Shadow(time, monotonic=self.monotonic, time=self.time))
                shadowed = True
            if getattr(module, "asyncio", None) is asyncio:
                monkeypatch.setattr(module, "asyncio", _Shadow(asyncio, sleep=self.sleep))
                shadowed = True
            assert shadowed, f"{module.__name__} imports neither time nor asyncio: the clock would not reach it"
        return self


class _Shadow:
    """A module with some of its functions replaced."""

    def __init__(self, real: ModuleType, **replaced):
        self._real = real
        self.__dict__.update(replaced)

    def __getattr__(self, name: str):
        return getattr(self._real, name)
