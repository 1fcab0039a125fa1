"""The warm fork server: torch and triton imported once, a fresh forked process per worker.

Started by :mod:`verifier.sandbox.warm` inside the same sandbox a worker gets (bwrap), it imports
what every worker imports, then waits on its control socket. For each request it forks one child,
which becomes exactly what ``python -m verifier.worker ROLE ...`` would have been after its imports:
its own session, the request and result pipes and log files the parent passed over the socket, a
fresh scratch directory, the worker's environment and resource limits, then
:func:`verifier.worker.__main__.run_role`.

What a child can reach from before the fork: the imported modules (no candidate has ever run in
this process: the server runs no candidate code, holds no key — the candidate role gets none — and
serves one child at a time). Between children the server kills whatever the previous child left
running in the sandbox's PID namespace and removes every file it left in scratch, /tmp, /dev and
/dev/shm and every System V IPC object (the sandbox's root is read-only), so nothing of one
candidate is there for the next. The server marks itself non-dumpable,
so its memory cannot be read or written through /proc by a child.

Control messages (SOCK_SEQPACKET, one JSON object each): the server sends ``{"ready": ...}`` once,
then ``{"forked": pid}`` and ``{"exited": pid, "returncode": rc}`` for each child; the parent sends
``{"op": "fork", ...}`` with four descriptors (request read end, result write end, stdout, stderr).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

PRELOAD = (
    "torch",
    "triton",
    "triton.language",
    "triton.runtime.autotuner",
    "torch.profiler",
    "torch._dynamo",  # the profiler's first start imports these (2 s)
    "torch._inductor",
    "verifier.codec",
    "verifier.channel",
    "verifier.hostinfo",
    "verifier.worker.protocol",
    "verifier.worker.loading",
    "verifier.worker.guard",
    "verifier.worker.compute_lock",
    "verifier.worker.no_new_processes",
    "verifier.worker.recorder",
    "verifier.worker.candidate_role",
)
"""What a candidate worker imports before any candidate code (the slow part of a cold start)."""

PR_SET_DUMPABLE = 4
MAX_MESSAGE = 1 << 16


def _send(sock: socket.socket, obj: dict[str, Any]) -> None:
    sock.send(json.dumps(obj).encode())


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _wipe(directory: Path, keep: frozenset[str] = frozenset()) -> None:
    """Remove everything inside ``directory`` (not the directory itself)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


IPC_RMID = 0


def _remove_ipc_objects() -> None:
    """Remove the System V shared memory segments, semaphores and message queues left in the
    sandbox's IPC namespace (they outlive the process that made them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for kind in ("shm", "sem", "msg"):
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if kind == "shm":
                libc.shmctl(ident, IPC_RMID, None)
            elif kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                libc.msgctl(ident, IPC_RMID, None)


def _clean_sandbox(base: Path, dev_entries: frozenset[str]) -> None:
    """Everything a child can write in a private sandbox: scratch, /tmp, /dev (the root is read-only)."""
    _wipe(base)
    _wipe(Path("/tmp"))
    _wipe(Path("/dev/shm"))
    _wipe(Path("/dev"), keep=dev_entries)
    _remove_ipc_objects()


def _kill_strays(own_pid_namespace: bool, child: int) -> None:
    """Kill what the child left running: everything else in a private PID namespace, else its session."""
    if not own_pid_namespace:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
        return
    me = os.getpid()
    for _ in range(3):  # a stray may fork while it is being killed (seccomp stops that on a CPU)
        strays = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me)]
        if not strays:
            return
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


def _close_other_descriptors(keep: tuple[int, ...]) -> None:
    """Close every descriptor the server holds (its control socket, its log) but the worker's own."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _child(request: dict[str, Any], fds: list[int], control: socket.socket, scratch: Path) -> None:
    """In the fork: become a fresh worker process and run the role; never returns."""
    code = 70
    try:
        control.close()
        os.setsid()
        req_r, res_w, out_fd, err_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        _close_other_descriptors((0, 1, 2, req_r, res_w))
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        scratch.mkdir(mode=0o700)
        os.chdir(scratch)
        from verifier.sandbox.environment import worker_environment
        from verifier.sandbox.isolation import resource_limiter

        env = worker_environment(
            scratch,
            os.environ.get("PYTHONPATH", ""),
            interpret_triton=bool(request["interpret_triton"]),
            caller_env=dict(os.environ),
        )
        os.environ.clear()
        os.environ.update(env)
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the child's own now
        sys.path[0] = str(scratch)
        resource_limiter(int(request["memory_mb"]), int(request["cpu_s"]), bool(request["limit_address_space"]))()
        from verifier.worker.__main__ import run_role

        run_role(str(request["role"]), req_r, res_w)
        code = 0
    except BaseException as e:
        with contextlib.suppress(BaseException):
            os.write(2, f"kiln zygote child: {type(e).__name__}: {e}\n".encode())
    finally:
        os._exit(code)


def serve(control_fd: int) -> None:
    """Import, report ready, then fork one worker per request until the control socket closes."""
    control = socket.socket(fileno=control_fd)
    own_pid_namespace = os.environ.pop("KILN_ZYGOTE_PRIVATE", "") == "1"
    """Set by the parent under bwrap: a PID namespace, /tmp and /dev/shm of this sandbox alone."""
    failed: list[str] = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as e:  # a child then imports it itself and reports what goes wrong
            failed.append(f"{name}: {type(e).__name__}: {e}")
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    base = Path.cwd()
    dev_entries = frozenset(os.listdir("/dev")) if own_pid_namespace else frozenset()
    _send(control, {"ready": True, "pid": os.getpid(), "threads": _thread_count(), "preload_failed": failed})
    serial = 0
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE, 4)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        if request.get("op") != "fork" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            _send(control, {"error": f"bad request {request.get('op')!r} with {len(fds)} descriptor(s)"})
            continue
        serial += 1
        scratch = base / f"worker-{serial}"
        pid = os.fork()
        if pid == 0:
            _child(request, fds, control, scratch)
        for fd in fds:
            os.close(fd)
        _send(control, {"forked": pid})
        _, status = os.waitpid(pid, 0)
        returncode = os.waitstatus_to_exitcode(status)
        _kill_strays(own_pid_namespace, pid)
        if own_pid_namespace:
            _clean_sandbox(base, dev_entries)
        else:
            _wipe(base)
        _send(control, {"exited": pid, "returncode": returncode})
