"""Ctrl-C during ``kiln compile`` / ``kiln bench`` / ``kiln generate``: the command waits for its worker thread.

On CPython 3.11 a KeyboardInterrupt that lands inside ``Thread.join(timeout)`` leaves the thread marked as
stopped while it still runs; ``kiln compile`` then read a compilation not yet made (KeyError) and hung at
exit until killed. ``join_interruptibly`` waits on an event the thread sets instead.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from service.cli.common import join_interruptibly


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Ctrl-C as a command gets it: Python's own handler (KeyboardInterrupt in the main thread), whatever
    an earlier test in this worker process left installed (a CI run failed with SIGINT never raised)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_first_ctrl_c_cancels_and_waits_for_the_thread() -> None:
    cancel = threading.Event()
    box: dict[str, int] = {}

    def target() -> None:
        cancel.wait(30)
        time.sleep(0.5)  # finishing what it verifies
        box["done"] = 1

    thread = threading.Thread(target=target, daemon=True)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    join_interruptibly(thread, cancel, "interrupted")
    assert cancel.is_set() and box == {"done": 1}
