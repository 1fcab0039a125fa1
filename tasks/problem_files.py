"""Reading problem files from a directory someone else filled: regular files only, inside it, bounded.

A ``*.py`` name can be a FIFO (reading it waits forever), a symlink to ``/dev/zero`` (reading it
never ends) or a symlink out of the directory (its text would be served as a task's source). Each
file is resolved, must lie inside the directory, is opened without blocking and checked on the open
descriptor (a regular file, at most ``MAX_PROBLEM_BYTES``) before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_PROBLEM_BYTES = 1024 * 1024
"""The largest problem file read (KernelBench's are a few kilobytes)."""


class UnsafeProblemFile(OSError):
    """A path that is not a regular file inside the directory, or is too large to be a problem."""


def read_problem(path: Path, root: Path, *, limit: int = MAX_PROBLEM_BYTES) -> str:
    """The UTF-8 text of ``path``; ``UnsafeProblemFile`` when it is not a regular file of at most
    ``limit`` bytes inside ``root`` (symlinks are followed only to places inside ``root``)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UnsafeProblemFile(f"{path}: a link to {resolved}, outside {root}: not read")
    try:
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise UnsafeProblemFile(f"{path}: cannot open: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeProblemFile(f"{path}: not a regular file ({_kind(info.st_mode)}): not read")
        if info.st_size > limit:
            raise UnsafeProblemFile(f"{path}: {info.st_size} bytes, more than the {limit} a problem file may have")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeProblemFile(f"{path}: more than the {limit} bytes a problem file may have")
    return data.decode("utf-8")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"
