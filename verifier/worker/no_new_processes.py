"""A seccomp filter that makes starting a process impossible for the rest of the worker's life.

Installed in the candidate worker (CPU runs) after the harness's warm-up and before candidate code
is imported. From then on ``fork``, ``vfork``, ``execve``, ``execveat`` and ``clone`` without
``CLONE_THREAD`` fail with ``EPERM`` (``clone3`` with ``ENOSYS``, so the C library falls back to
``clone`` for threads, which stay allowed), and so do ``ptrace`` and cross-process memory access.
No library deputy (``torch.multiprocessing``, ``_posixsubprocess``, a C extension) can get round a
kernel filter, and nothing in the process can remove it.

Not installed on a GPU: Triton starts ``ptxas`` and a C compiler to build each kernel there; the
audit hook then refuses process creation except for those tools.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
CLONE_THREAD = 0x00010000

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_RET_K = 0x06

ARCHES = {
    # machine: (AUDIT_ARCH, clone, denied with EPERM, clone3)
    "x86_64": (0xC000003E, 56, (57, 58, 59, 322, 101, 310, 311), 435),
    "aarch64": (0xC00000B7, 220, (221, 281, 117, 270, 271), 435),
}
"""Syscall numbers: x86_64 fork 57, vfork 58, execve 59, execveat 322, ptrace 101,
process_vm_readv/writev 310/311; aarch64 execve 221, execveat 281, ptrace 117, process_vm_* 270/271
(aarch64 has no fork/vfork syscalls)."""


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _program(audit_arch: int, clone: int, denied: tuple[int, ...], clone3: int) -> list[tuple[int, int, int, int]]:
    """The filter: other architectures and unlisted syscalls pass; listed ones fail."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, audit_arch),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    for nr in denied:
        prog += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, deny)]
    prog += [(_JEQ_K, 0, 1, clone3), (_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)]
    prog += [
        (_JEQ_K, 0, 3, clone),
        (_LD_W_ABS, 0, 0, 16),  # low 32 bits of args[0] (clone flags; little-endian hosts)
        (_JSET_K, 1, 0, CLONE_THREAD),
        (_RET_K, 0, 0, deny),
        (_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return prog


def install() -> str | None:
    """Install the filter; returns None when installed, else why not (the report says so)."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        return f"no process-creation filter for architecture {platform.machine()}"
    if struct.pack("=I", 1)[0] != 1:  # pragma: no cover - big-endian host
        return "no process-creation filter on a big-endian host"
    prog = _program(*arch)
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {errno.errorcode.get(ctypes.get_errno(), '?')}"
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        return f"prctl(PR_SET_SECCOMP) failed: {errno.errorcode.get(ctypes.get_errno(), '?')}"
    return None
