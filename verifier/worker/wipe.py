"""The warm fork server's clean-up between children, and its check: every directory a child can
write is emptied and given back its mode, extended attributes and times; System V IPC objects are
removed; then what is left (entries, tmpfs space and inodes, IPC objects) is the residue, reported to
the parent, which discards a server with any. ``remove_tree`` is the same walk for a whole tree (the
parent removes a closed server's scratch directory with it).

Standard library only: it runs inside the sandbox, in the server, and in the verifier's parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_DEPTH = 64
"""How deep the wipe descends below a wiped directory: a deeper tree stays, is reported as residue,
and the parent discards the server (no verification nests directories that deep)."""
SPACE_SLACK_BLOCKS = 0
"""Blocks a wiped tmpfs may still use beyond what it used when the server started."""
MAX_RESIDUE = 20
"""Residue entries reported (then a count of the rest); each is cut to ``RESIDUE_CHARS``."""
RESIDUE_CHARS = 200
_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NONBLOCK
_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISREG, "file"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def _open_directory(name: str, dir_fd: int | None, mode: int) -> int:
    """Open the directory ``name`` for listing, never through a symlink, after setting its mode to
    ``mode`` (its owner is this process's uid, as for everything a child made: a capability-less
    owner may always chmod, so a ``0o300`` or ``0o000`` directory cannot keep the wipe out)."""
    path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.chmod(f"/proc/self/fd/{path_fd}", mode)  # what fchmodat(AT_SYMLINK_NOFOLLOW) does in glibc
        return os.open(f"/proc/self/fd/{path_fd}", _LIST_FLAGS)
    finally:
        os.close(path_fd)


def _empty(dir_fd: int, keep: Collection[str] = (), depth: int = 0) -> None:
    """Remove everything inside the open directory ``dir_fd`` but the names in ``keep``; what cannot
    be removed, a mount point, or what lies more than ``MAX_DEPTH`` levels down stays (for the check)."""
    device = os.fstat(dir_fd).st_dev
    with os.scandir(dir_fd) as listing:
        entries = [entry for entry in listing if entry.name not in keep]
    for entry in entries:
        with contextlib.suppress(OSError):
            if not entry.is_dir(follow_symlinks=False):  # files, symlinks (never followed), fifos, sockets
                os.unlink(entry.name, dir_fd=dir_fd)
            elif depth < MAX_DEPTH and entry.stat(follow_symlinks=False).st_dev == device:
                fd = _open_directory(entry.name, dir_fd, 0o700)
                try:
                    _empty(fd, depth=depth + 1)
                finally:
                    os.close(fd)
                os.rmdir(entry.name, dir_fd=dir_fd)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything below it (to ``MAX_DEPTH``), whatever modes a worker left on its
    directories (the parent's removal of a closed server's scratch directory)."""
    with contextlib.suppress(OSError):
        fd = _open_directory(str(path), None, 0o700)
        try:
            _empty(fd)
        finally:
            os.close(fd)
        os.rmdir(path)


@dataclass(frozen=True)
class _Kept:
    """A directory the wipe empties but keeps, as it was when the server started: a wiped root, or a
    directory on the way from one to a mount point inside it."""

    identity: tuple[int, ...]
    mode: int
    times_ns: tuple[int, int]
    xattrs: dict[str, bytes]
    subdirs: dict[str, _Kept]
    """Kept directories inside (emptied in turn)."""
    left: dict[str, tuple[Any, ...]]
    """Entries left alone (mount points, other roots, /dev's nodes and symlinks): what they must still be."""


@dataclass(frozen=True)
class Baseline:
    """The sandbox's writable places as the server found them, before any child ran: each root is
    emptied after every child; ``space`` holds the free blocks and inodes of the roots that are tmpfs
    mounts; with ``ipc``, no System V IPC object may remain either."""

    roots: dict[str, _Kept]
    space: dict[str, tuple[int, int]]
    ipc: bool


def _xattrs(path: str) -> dict[str, bytes]:
    """The extended attributes of ``path`` itself (a child may hang data on a directory it cannot remove)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in names}


def _dir_identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid)


def _identity(path: str) -> tuple[Any, ...]:
    """What must not change about an entry the wipe leaves alone (a device node, a mount point...): for
    one that is no directory (whose times change as a child uses it) also its change time, as a file
    removed and made again may get the same inode number."""
    st = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    changed = None if stat.S_ISDIR(st.st_mode) else st.st_ctime_ns
    return (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_rdev, target, changed)


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def _mount_points() -> tuple[set[str], set[str]]:
    """Mount points in this process's mount namespace: all of them, and those of tmpfs file systems."""
    every, tmpfs = set(), set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, fs = line.partition(" - ")
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields.split(" ")[4])
        every.add(point)
        if fs.split(" ", 1)[0] == "tmpfs":
            tmpfs.add(point)
    return every, tmpfs


def _survey(path: str, stops: set[str], keep_all: bool) -> _Kept:
    """``path`` as it is now; entries in ``stops`` (or every entry, with ``keep_all``) are left alone,
    directories leading to one are kept, and nothing else is."""
    st = os.lstat(path)
    prefix = _join(path, "")
    names = (
        os.listdir(path)
        if keep_all
        else {stop[len(prefix) :].split("/")[0] for stop in stops if stop.startswith(prefix)}
    )
    subdirs, left = {}, {}
    for name in names:
        if keep_all or _join(path, name) in stops:
            left[name] = _identity(_join(path, name))
        else:
            subdirs[name] = _survey(_join(path, name), stops, False)
    return _Kept(
        _dir_identity(st), stat.S_IMODE(st.st_mode), (st.st_atime_ns, st.st_mtime_ns), _xattrs(path), subdirs, left
    )


def _free(path: str) -> tuple[int, int]:
    st = os.statvfs(path)
    return st.f_bfree, st.f_ffree


def take_baseline(roots: list[str], keep_all: Collection[str] = (), ipc: bool = False) -> Baseline:
    """Record the sandbox's writable places at the server's start (see :class:`Baseline`); in the roots
    named in ``keep_all`` (/dev) every entry present now is left alone by the wipe."""
    mounts, tmpfs = _mount_points()
    stops = mounts | set(roots)
    return Baseline(
        roots={root: _survey(root, stops, root in keep_all) for root in roots},
        space={root: _free(root) for root in roots if root in tmpfs},
        ipc=ipc,
    )


def _wipe_kept(path: str, kept: _Kept) -> None:
    """Empty the kept directory ``path``, and give it back its mode, extended attributes and times."""
    if _dir_identity(os.lstat(path)) != kept.identity:
        return  # replaced (the check reports it): never follow what a child put there
    fd = _open_directory(path, None, kept.mode)
    try:
        _empty(fd, keep=kept.subdirs.keys() | kept.left.keys())
    finally:
        os.close(fd)
    for name, subdir in kept.subdirs.items():
        with contextlib.suppress(OSError):
            _wipe_kept(_join(path, name), subdir)
    for name in set(_xattrs(path)) - set(kept.xattrs):
        with contextlib.suppress(OSError):
            os.removexattr(path, name, follow_symlinks=False)
    os.utime(path, ns=kept.times_ns, follow_symlinks=False)


def wipe(baseline: Baseline) -> None:
    """Remove everything a child left in the sandbox's writable places (errors are left to :func:`residue`)."""
    for root, kept in baseline.roots.items():
        with contextlib.suppress(OSError):
            _wipe_kept(root, kept)
    if baseline.ipc:
        _remove_ipc_objects()


def _describe(path: str) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return f"{path} (gone)"
    kind = next((name for test, name in _KINDS if test(mode)), "entry")
    return f"{path} ({kind})"


def _residue_in(path: str, kept: _Kept, found: list[str]) -> None:
    """Append to ``found`` what in the kept directory ``path`` differs from the start."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        found.append(f"{path} (missing)")
        return
    if _dir_identity(st) != kept.identity:
        found.append(f"{path} (replaced)")
        return
    if stat.S_IMODE(st.st_mode) != kept.mode:
        found.append(f"{path} (mode {stat.S_IMODE(st.st_mode):o}, was {kept.mode:o})")
    if _xattrs(path) != kept.xattrs:
        found.append(f"{path} (extended attributes)")
    names = os.listdir(path)
    for name in sorted(names):
        entry = _join(path, name)
        if name in kept.subdirs:
            _residue_in(entry, kept.subdirs[name], found)
        elif name not in kept.left:
            found.append(_describe(entry))
        elif _identity(entry) != kept.left[name]:
            found.append(f"{entry} (changed)")
    found += [
        f"{_join(path, name)} (missing)" for name in sorted((kept.subdirs.keys() | kept.left.keys()) - set(names))
    ]


def residue(baseline: Baseline) -> list[str]:
    """What of a child is still in the sandbox after :func:`wipe`; empty if nothing. The entries
    name files a candidate chose, so they are ASCII-escaped, cut short and few."""
    found: list[str] = []
    for root, kept in baseline.roots.items():
        _residue_in(root, kept, found)
    for root, (blocks, inodes) in baseline.space.items():
        free_blocks, free_inodes = _free(root)
        if free_blocks < blocks - SPACE_SLACK_BLOCKS or free_inodes < inodes:
            found.append(f"{root} ({blocks - free_blocks} blocks and {inodes - free_inodes} inodes still in use)")
    if baseline.ipc:
        found += [f"System V IPC {kind} {ident}" for kind, ident in _ipc_objects()]
    return _bounded(found)


def _bounded(found: list[str]) -> list[str]:
    entries = [ascii(entry)[1:-1][:RESIDUE_CHARS] for entry in found[:MAX_RESIDUE]]
    if len(found) > MAX_RESIDUE:
        entries.append(f"... and {len(found) - MAX_RESIDUE} more")
    return entries


def clean(baseline: Baseline) -> list[str]:
    """Wipe, then check: the residue (empty when the sandbox is as the server found it). A check that
    fails counts as residue: the parent then discards the server."""
    try:
        wipe(baseline)
        return residue(baseline)
    except Exception as e:  # anything at all: the sandbox is not known to be clean
        return _bounded([f"the check failed: {type(e).__name__}: {e}"])


IPC_RMID = 0
_IPC_KINDS = ("shm", "sem", "msg")


def _ipc_objects() -> list[tuple[str, int]]:
    """The System V IPC objects (kind, id) in this IPC namespace."""
    objects = []
    for kind in _IPC_KINDS:
        for row in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
            objects.append((kind, int(row.split()[1])))
    return objects


def _remove_ipc_objects() -> None:
    """Remove the System V shared memory segments, semaphores and message queues left in the
    sandbox's IPC namespace (they outlive the process that made them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with contextlib.suppress(OSError):
        for kind, ident in _ipc_objects():
            if kind == "shm":
                libc.shmctl(ident, IPC_RMID, None)
            elif kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                libc.msgctl(ident, IPC_RMID, None)
