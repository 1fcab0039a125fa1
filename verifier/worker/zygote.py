"""The warm fork server: torch and triton imported once, a fresh forked process per worker.

Started by :mod:`verifier.sandbox.warm` inside the same sandbox a worker gets (bwrap), it imports
what every worker imports, then waits on its control socket. For each request it forks one child,
which becomes exactly what ``python -m verifier.worker ROLE ...`` would have been after its imports:
its own session, the request and result pipes and log files the parent passed over the socket, a
fresh scratch directory, the worker's environment and resource limits, then
:func:`verifier.worker.roles.run_role`.

What a child can reach from before the fork: the imported modules (no candidate has ever run in
this process: the server runs no candidate code, holds no key — the candidate role gets none — and
serves one child at a time). Between children the server kills whatever the previous child left
running in the sandbox's PID namespace, then cleans what it can write (the sandbox's root is
read-only): it removes every file and directory it left in scratch, /tmp, /dev, /dev/shm and
/dev/mqueue (making each directory accessible first: the server has the child's uid but no
capabilities, and an owner may always chmod), gives those directories back their mode, extended
attributes and times, and removes every System V IPC object. Then it checks: those directories hold
exactly what they held when the server started (/dev's own nodes unchanged), their tmpfs mounts have
their free space and inodes back, no IPC object remains. Whatever is left is reported as residue and
the parent discards the server, so nothing of one candidate is there for the next (the clean-up and
the check: :mod:`verifier.worker.wipe`). The server marks
itself non-dumpable, so its memory cannot be read or written through /proc by a child.

Control messages (SOCK_SEQPACKET, one JSON object each): the server sends ``{"ready": ...}`` once
(``"ready": false`` if it cannot record the sandbox's state to check against), then
``{"forked": pid}`` and ``{"exited": pid, "returncode": rc, "residue": [...], "cleanup_ms": ms}`` for
each child; the parent sends ``{"op": "fork", ...}`` with four descriptors (request read end, result
write end, stdout, stderr).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from verifier.worker.roles import close_other_descriptors, run_role
from verifier.worker.wipe import Baseline, clean, remove_tree, take_baseline

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
    "torch._subclasses.fake_tensor",
    "torch.func",
    "torch.utils._python_dispatch",
    "triton.runtime.interpreter",
    "verifier.plan.kernel_source",
    "verifier.plan.record",
    "verifier.plan.execute",
    "verifier.plan.gpu_build",
    "verifier.worker.planner_role",
    "verifier.worker.runner_role",
    "verifier.worker.compile_role",
    "triton.compiler",
    "triton.backends.nvidia.compiler",
)
"""What a candidate worker imports before any candidate code (the slow part of a cold start)."""

PRELOAD_COMPILER = (
    "triton",
    "triton.language",
    "triton.compiler",
    "triton.backends.nvidia.compiler",
    "verifier.channel",
    "verifier.worker.protocol",
    "verifier.plan.kernel_source",
    "verifier.plan.gpu_build",
    "verifier.worker.compile_role",
)
"""What a CPU host's compile server imports: Triton's compiler, no torch (a compile worker holds no
tensor; it starts in ~1 s instead of the ~3 s torch takes)."""

PR_SET_DUMPABLE = 4
MAX_MESSAGE = 1 << 16


def _send(sock: socket.socket, obj: dict[str, Any]) -> None:
    sock.send(json.dumps(obj).encode())


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _sandbox_baseline(base: str, private: bool) -> Baseline:
    """Everything a child can write: in a private sandbox /dev (its own nodes kept), scratch, /tmp,
    /dev/shm, the POSIX message queue mount and the IPC namespace (the root is read-only); else scratch."""
    if not private:
        return take_baseline([base])
    roots = ["/dev", base, "/tmp", "/dev/shm"]
    if os.path.ismount("/dev/mqueue"):
        roots.append("/dev/mqueue")
    return take_baseline(roots, keep_all=("/dev",), ipc=True)


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


def _child(request: dict[str, Any], fds: list[int], control: socket.socket, scratch: Path) -> None:
    """In the fork: become a fresh worker process and run the role; never returns."""
    code = 70
    try:
        control.close()
        os.setsid()
        req_r, res_w, out_fd, err_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        close_other_descriptors((0, 1, 2, req_r, res_w))
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
        run_role(str(request["role"]), req_r, res_w)
        code = 0
    except BaseException as e:
        with contextlib.suppress(BaseException):
            os.write(2, f"kiln zygote child: {type(e).__name__}: {e}\n".encode())
    finally:
        os._exit(code)


def _warm_up_compiler(base: Path) -> list[str]:
    """Build one trivial kernel for sm_90, so a forked compile worker finds Triton's backend and LLVM
    ready (about 0.7 s once here instead of in every child). Its cache goes in a directory removed
    at once: children start with their own empty cache, and the sandbox baseline is taken after."""
    cache = base / "warm-up-cache"
    previous = os.environ.get("TRITON_CACHE_DIR")
    os.environ["TRITON_CACHE_DIR"] = str(cache)
    try:
        import triton
        import triton.language as tl
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
        from triton.runtime.jit import JITFunction

        def kiln_warm_up(x_ptr, n, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
            offs = tl.arange(0, BLOCK)
            tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1, mask=offs < n)

        source = ASTSource(
            fn=JITFunction(kiln_warm_up),
            signature={"x_ptr": "*fp32", "n": "i32", "BLOCK": "constexpr"},
            constexprs={"BLOCK": 16},
        )
        triton.compile(source, target=GPUTarget("cuda", 90, 32))
        return []
    except Exception as e:  # a child then compiles from cold
        return [f"compiler warm-up: {type(e).__name__}: {e}"]
    finally:
        if previous is None:
            os.environ.pop("TRITON_CACHE_DIR", None)
        else:
            os.environ["TRITON_CACHE_DIR"] = previous
        remove_tree(cache)


def serve(control_fd: int) -> None:
    """Import, report ready, then fork one worker per request until the control socket closes."""
    control = socket.socket(fileno=control_fd)
    own_pid_namespace = os.environ.pop("KILN_ZYGOTE_PRIVATE", "") == "1"
    """Set by the parent under bwrap: a PID namespace, /tmp and /dev/shm of this sandbox alone."""
    failed: list[str] = []
    light = os.environ.pop("KILN_ZYGOTE_COMPILER_ONLY", "") == "1"
    for name in PRELOAD_COMPILER if light else PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as e:  # a child then imports it itself and reports what goes wrong
            failed.append(f"{name}: {type(e).__name__}: {e}")
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    base = Path.cwd()
    if os.environ.get("TRITON_INTERPRET") != "1":
        failed += _warm_up_compiler(base)
    try:
        baseline = _sandbox_baseline(str(base), own_pid_namespace)
        # what the imports themselves wrote (torch's /tmp/torchinductor_<user>) goes before the first child:
        # the first child finds the sandbox as every later one does, after a wipe
        left = clean(baseline)
    except Exception as e:  # a server that cannot check what children leave serves none
        _send(control, {"ready": False, "error": f"no baseline of the sandbox: {type(e).__name__}: {e}"})
        return
    if left:
        _send(control, {"ready": False, "error": f"the sandbox could not be emptied before the first child: {left}"})
        return
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
        started = time.perf_counter()
        left = clean(baseline)
        cleanup_ms = round((time.perf_counter() - started) * 1000, 3)
        _send(control, {"exited": pid, "returncode": returncode, "residue": left, "cleanup_ms": cleanup_ms})
