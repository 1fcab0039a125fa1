"""The bounded pools behind /v1/verify and source checks: places are taken before any work and given back
however a request ends; verification threads, and the processes they start, run at a lower CPU priority."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import pytest

from service.workpool import BoundedPool, OwnerBusy, PoolFull


def test_places_are_bounded_per_pool_and_per_owner() -> None:
    pool = BoundedPool("t", threads=1, backlog=1, per_owner=1)
    try:
        a = pool.reserve("alice")
        with pytest.raises(OwnerBusy):
            pool.reserve("alice")
        b = pool.reserve("bob")
        with pytest.raises(PoolFull):
            pool.reserve("carol")
        a.release()
        a.release()  # twice is harmless
        assert pool.in_flight == 1
        c = pool.reserve("alice")
        gate = threading.Event()

        async def both() -> list[int]:
            return await asyncio.gather(b.run(lambda: gate.wait(5) and 1), c.run(lambda: 2))

        threading.Timer(0.2, gate.set).start()
        assert asyncio.run(both()) == [1, 2]
        assert pool.in_flight == 0 and pool.most_running == 1
    finally:
        pool.shutdown()


def test_a_failing_task_gives_its_place_back() -> None:
    pool = BoundedPool("t", threads=1, backlog=0)
    try:

        def boom() -> None:
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            asyncio.run(pool.run(boom))
        assert pool.in_flight == 0
        assert asyncio.run(pool.run(lambda: "again")) == "again"
    finally:
        pool.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_verification_threads_and_their_processes_run_nicer() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= 19:
        pytest.skip("this process is already as nice as it gets")
    pool = BoundedPool("t", threads=1, backlog=0, nice=5)
    try:

        def niceness() -> tuple[int, int]:
            own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            child = subprocess.run(
                [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
                capture_output=True,
                text=True,
                check=True,
            )
            return own, int(child.stdout)

        assert asyncio.run(pool.run(niceness)) == (min(base + 5, 19), min(base + 5, 19))
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the request threads are untouched
    finally:
        pool.shutdown()
