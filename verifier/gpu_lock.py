"""One timed phase per GPU at a time, across processes on the host.

Two verifications timing on the same GPU at once would each measure the other's kernels too. The
parent holds an exclusive ``flock`` on a per-device lock file while a worker times (the reference's
eager and compiled baselines, a candidate's timed calls); correctness runs are not serialised.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def lock_path(device_index: str | None = None) -> Path:
    """The lock file for the GPU the workers will use (the first visible device)."""
    visible = device_index or os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    safe = "".join(c for c in visible if c.isalnum() or c in "-_") or "0"
    return Path(tempfile.gettempdir()) / f"kiln-gpu-timing-{safe}.lock"


@contextlib.contextmanager
def timing_lock(enabled: bool = True, device_index: str | None = None) -> Iterator[None]:
    """Hold the GPU's timing lock for the ``with`` block (a no-op when ``enabled`` is false)."""
    if not enabled:
        yield
        return
    fd = os.open(lock_path(device_index), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
