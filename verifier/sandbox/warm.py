"""Warm workers: a pool of sandboxed fork servers, so a worker starts without importing torch again.

A cold worker is a new interpreter that imports torch and triton (about 2 s of CPU) before it reads
its request. A warm one is forked from a :mod:`verifier.worker.zygote` that did those imports once,
inside the same bwrap sandbox a cold worker gets; each fork is a fresh process with its own session,
pipes, logs, scratch directory, environment and resource limits, and the server cleans the sandbox
between forks (see the zygote's docstring for what a child can and cannot reach).

The parent drives a warm worker through :class:`WarmProcess`, which answers the ``subprocess.Popen``
calls :class:`verifier.sandbox.runner.WorkerSession` makes (``pid`` is the child's host PID, so the
memory watchdog and the kills work as for a cold worker). Each server runs one child at a time; a
pool per (sandbox, device) keeps idle servers for the next worker and starts one more when all are
busy. Servers that misbehave or die are dropped, never reused, and so is a server whose clean-up
after a child left anything (``residue`` in its exit report: a file it could not remove, space still
in use, an IPC object, or no report at all); ``WarmPool.discarded`` and ``last_discard`` say how many
and why. The next worker then gets a new server, with fresh scratch, /tmp and /dev mounts.

Policy (:func:`enabled`): used for candidate workers on a CPU under bwrap (or ``none`` for trusted
code). Not on a GPU until measured there, not under unshare (the worker is root in its namespace,
so one child could reach the server) nor docker (one container per worker). ``KILN_WARM_WORKERS=0``
turns it off, ``=1`` also allows a GPU.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from verifier.sandbox import isolation as iso
from verifier.sandbox.environment import worker_environment
from verifier.sandbox.processes import descendants
from verifier.worker.wipe import remove_tree

START_TIMEOUT_S = 120.0
"""How long a new server may take to import torch and triton (a loaded 2-core host: ~5 s)."""
MECHANISMS = ("bwrap", "none")
EXIT_REPORT_S = 60.0
"""How long the server may take to report a killed child's exit before it is dropped."""
MAX_REASON = 4000
"""Characters kept of why a server was discarded."""


def enabled(mechanism: str, cuda: bool) -> bool:
    """Whether candidate workers of this sandbox and device start warm."""
    setting = os.environ.get("KILN_WARM_WORKERS", "auto").strip().lower()
    if setting in ("0", "off", "false", "no") or mechanism not in MECHANISMS:
        return False
    if cuda:
        return setting in ("1", "on", "true", "yes")
    return True


class WarmStartError(RuntimeError):
    """The server could not fork a worker (the caller falls back to a cold start)."""


@dataclass(frozen=True)
class ServerSpec:
    """What a fork server is started with: the sandbox, the device, the package it imports, its scratch
    quota, and Triton's interpreter (None: on for a CPU, off for a GPU)."""

    isolation: iso.Isolation
    cuda: bool
    package_dir: Path
    scratch_cap_bytes: int | None
    interpret: bool | None = None

    @property
    def interpreting(self) -> bool:
        return (not self.cuda) if self.interpret is None else self.interpret

    @property
    def key(self) -> tuple[str, bool, bool]:
        """Servers of one key are interchangeable (the pool keeps them idle by key)."""
        return (self.isolation.mechanism, self.cuda, self.interpreting)


class Zygote:
    """One fork server process and its control socket."""

    def __init__(self, spec: ServerSpec) -> None:
        isolation, cuda, package_dir = spec.isolation, spec.cuda, spec.package_dir
        self.isolation = isolation
        self.cuda = cuda
        self.interpret = spec.interpreting
        """Triton's interpreter on (``TRITON_INTERPRET=1`` when Triton is imported here, so in every child):
        a CPU's planner and runner; off for the compile worker, whose compiler needs the real language."""
        self.scratch = Path(tempfile.mkdtemp(prefix="kiln-zygote-"))
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = parent_end
        worker_argv = [sys.executable, "-m", "verifier.worker", "zygote", str(child_end.fileno())]
        if isolation.mechanism == "bwrap":
            argv = _with_mqueue(iso.bwrap_argv(worker_argv, self.scratch, package_dir, cuda, spec.scratch_cap_bytes))
        else:
            argv = worker_argv
        env = worker_environment(self.scratch, str(package_dir.parent), interpret_triton=self.interpret)
        if isolation.mechanism == "bwrap":
            env["KILN_ZYGOTE_PRIVATE"] = "1"
        if not self.interpret and not cuda:  # a CPU host's compile server: Triton's compiler, no torch
            env["KILN_ZYGOTE_COMPILER_ONLY"] = "1"
        # numpy's OpenBLAS starts a thread pool at import; a server that forks stays single-threaded
        # (no candidate computes with numpy: host compute is refused)
        env["OPENBLAS_NUM_THREADS"] = "1"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=self.log,
                env=env,
                cwd=self.scratch,
                pass_fds=(child_end.fileno(),),
                start_new_session=True,
            )
        finally:
            child_end.close()
        self.broken = False
        ready = self.receive(START_TIMEOUT_S)
        if not ready or not ready.get("ready"):
            self.close()
            raise WarmStartError(f"the warm worker server did not start: {ready or self.log_tail()}")
        if int(ready.get("threads", 1)) != 1:  # forking a threaded process is not safe
            self.close()
            raise WarmStartError(f"the warm worker server runs {ready.get('threads')} threads after its imports")
        self.ns_pid = int(ready["pid"])
        self.host_pid = _host_pid(self.proc.pid, self.ns_pid)

    def receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The server's next message, or None on EOF or timeout."""
        ready, _, _ = select.select([self.control], [], [], max(0.0, timeout_s))
        if not ready:
            return None
        try:
            data = self.control.recv(1 << 16)
        except OSError:
            return None
        return json.loads(data) if data else None

    def fork(self, role: str, fds: list[int], memory_mb: int, cpu_s: int, limit_address_space: bool) -> WarmProcess:
        request = {
            "op": "fork",
            "role": role,
            "memory_mb": memory_mb,
            "cpu_s": cpu_s,
            "limit_address_space": limit_address_space,
            "interpret_triton": self.interpret,
        }
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)
        except OSError as e:
            self.broken = True
            raise WarmStartError(f"the warm worker server is gone ({e})") from None
        reply = self.receive(30.0)
        if not reply or "forked" not in reply:
            self.broken = True
            raise WarmStartError(f"the warm worker server did not fork: {reply or self.log_tail()}")
        host_pid = _host_pid(self.host_pid, int(reply["forked"])) if self.host_pid else None
        if host_pid is None:
            self.broken = True
            raise WarmStartError("the forked worker's host process id could not be found")
        return WarmProcess(self, host_pid)

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def log_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.log.seek(0)
            return self.log.read()[-1500:].decode(errors="replace")
        return ""

    def close(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError):
            self.control.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        with contextlib.suppress(OSError, ValueError):
            self.log.close()
        remove_tree(self.scratch)  # a child's 0o000 directories included (the parent may not be root)
        shutil.rmtree(self.scratch, ignore_errors=True)  # and what lies deeper than that walk goes


def _with_mqueue(argv: list[str]) -> list[str]:
    """A server's sandbox also mounts its IPC namespace's POSIX message queues on /dev/mqueue, so the
    server can see and remove the queues a child left (``mq_open`` works without the mount)."""
    if "--remount-ro" not in argv:
        raise WarmStartError("the sandbox's command line has no --remount-ro to put the mqueue mount before")
    at = argv.index("--remount-ro")
    return [*argv[:at], "--mqueue", "/dev/mqueue", *argv[at:]]


class WarmProcess:
    """A forked worker, seen through the ``subprocess.Popen`` calls the runner makes."""

    def __init__(self, zygote: Zygote, host_pid: int) -> None:
        self.zygote = zygote
        self.pid = host_pid
        self.returncode: int | None = None
        self.residue: list[str] | None = None
        """What the server's clean-up after this child found left (empty: nothing; None: no report)."""
        self.cleanup_ms: float | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._collect(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Like ``Popen.wait``; with no timeout, a server that reports nothing within ``EXIT_REPORT_S``
        of a kill is dropped and the child counted as killed."""
        deadline = time.monotonic() + (EXIT_REPORT_S if timeout is None else timeout)
        while self.returncode is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if timeout is not None:
                    raise subprocess.TimeoutExpired(f"warm worker {self.pid}", timeout)
                self.zygote.broken = True
                self._server_lost()
                break
            self._collect(min(remaining, 1.0))
        assert self.returncode is not None
        return self.returncode

    def _collect(self, timeout_s: float) -> None:
        """Read the server's exit report for this child; a dead or confused server counts as a kill."""
        if not self.zygote.alive():
            self._server_lost()
            return
        message = self.zygote.receive(timeout_s)
        if message is None:
            if self.zygote.proc.poll() is not None:
                self._server_lost()
            return
        if "exited" in message:
            self.returncode = int(message.get("returncode", -signal.SIGKILL))
            self.residue = _residue(message)
            with contextlib.suppress(TypeError, ValueError):
                self.cleanup_ms = float(message.get("cleanup_ms"))
        else:
            self.zygote.broken = True
            self._server_lost()

    def _server_lost(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        self.returncode = -signal.SIGKILL


def _residue(message: dict[str, Any]) -> list[str]:
    """The residue in an exit report; a report without a readable one counts as residue."""
    residue = message.get("residue")
    if not isinstance(residue, list) or not all(isinstance(entry, str) for entry in residue):
        return ["the server did not report what its clean-up left"]
    return residue


def _host_pid(root: int, ns_pid: int, wait_s: float = 5.0) -> int | None:
    """The host PID of the process below ``root`` whose innermost namespace PID is ``ns_pid``."""
    deadline = time.monotonic() + wait_s
    while True:
        for pid in [root, *descendants(root)]:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                for line in status.splitlines():
                    if line.startswith("NSpid:") and int(line.split()[-1]) == ns_pid:
                        return pid
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


class _Starter:
    """One long-lived thread that starts every server. bwrap's ``--die-with-parent`` kills the sandbox
    when the *thread* that started it exits (the parent-death signal follows the thread), so a server
    started from a short-lived thread (a verification's, a prewarm's) would die with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Any, concurrent.futures.Future[Any]]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def call(self, fn: Any) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="kiln-warm-starter", daemon=True)
                self._thread.start()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((fn, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                future.set_result(fn())
            except BaseException as e:
                future.set_exception(e)


STARTER = _Starter()


class WarmPool:
    """Idle fork servers per (sandbox mechanism, device), shared by the threads of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, bool, bool], list[Zygote]] = {}
        self._all: list[Zygote] = []
        self.unavailable: dict[tuple[str, bool, bool], str] = {}
        """Why no server could be started for a key: later workers of that key start cold at once."""
        self._starting: set[tuple[str, bool, bool]] = set()
        self.discarded = 0
        """Servers dropped on release (their child's exit unknown, the server gone, or residue)."""
        self.last_discard: str | None = None
        """Why the last one was (residue entries name a candidate's files: kept here, logged nowhere)."""

    def acquire(self, spec: ServerSpec) -> Zygote:
        key = spec.key
        dead: list[Zygote] = []
        try:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                while idle:
                    zygote = idle.pop()
                    if zygote.alive():
                        return zygote
                    dead.append(self._forget(zygote))
                if key in self.unavailable:
                    raise WarmStartError(self.unavailable[key])
        finally:
            for zygote in dead:  # closed outside the lock: other threads need not wait for it
                zygote.close()
        return self._start(key, lambda: Zygote(spec))

    def _start(self, key: tuple[str, bool, bool], make: Any, idle: bool = False) -> Zygote:
        """Start a server (from the long-lived starter thread) and record it, or why it failed."""
        try:
            zygote = STARTER.call(make)
        except WarmStartError as e:
            with self._lock:
                self.unavailable[key] = str(e)
                self._starting.discard(key)
            raise
        with self._lock:
            self._all.append(zygote)
            if idle:
                self._idle.setdefault(key, []).append(zygote)
            self._starting.discard(key)
        return zygote

    def prewarm(self, spec: ServerSpec) -> None:
        """Start a server for this key in the background if none is idle or starting, so a worker asked
        for later (the compile worker, after the plans are recorded) forks at once."""
        key = spec.key
        with self._lock:
            if self._idle.get(key) or key in self._starting or key in self.unavailable:
                return
            self._starting.add(key)

        def start() -> None:
            with contextlib.suppress(WarmStartError):
                self._start(key, lambda: Zygote(spec), idle=True)

        threading.Thread(target=start, name="kiln-warm-prewarm", daemon=True).start()

    def release(self, zygote: Zygote, process: WarmProcess | None) -> None:
        """Give the server back once its child's exit is reported and its clean-up left nothing;
        else it is dropped (and a new one started for the next worker)."""
        problem = _discard_reason(zygote, process)
        with self._lock:
            if problem is None:
                self._idle.setdefault((zygote.isolation.mechanism, zygote.cuda, zygote.interpret), []).append(zygote)
                return
            self._forget(zygote)
            self.discarded += 1
            self.last_discard = problem
        zygote.close()

    def _forget(self, zygote: Zygote) -> Zygote:
        """Drop ``zygote`` from the pool (the caller holds the lock, and closes it after releasing it)."""
        with contextlib.suppress(ValueError):
            self._all.remove(zygote)
        return zygote

    def shutdown(self) -> None:
        with self._lock:
            zygotes, self._all, self._idle = list(self._all), [], {}
        for zygote in zygotes:
            zygote.close()


def _discard_reason(zygote: Zygote, process: WarmProcess | None) -> str | None:
    """Why ``zygote`` may not serve another child, or None if it may."""
    if process is None or process.returncode is None:
        return "its child's exit was not reported"
    if not zygote.alive():
        return "the server is gone or misbehaved"
    if process.residue is None:
        return "its clean-up was not reported"
    if process.residue:
        return ("its clean-up left " + "; ".join(process.residue))[:MAX_REASON]
    return None


POOL = WarmPool()
atexit.register(POOL.shutdown)


def start_worker(
    spec: ServerSpec,
    role: str,
    req_r: int,
    res_w: int,
    logs: tuple[IO[bytes], IO[bytes]],
    memory_mb: int,
    cpu_s: int,
) -> tuple[Zygote, WarmProcess]:
    """Fork a worker from a pooled server (raises WarmStartError; the caller then starts it cold)."""
    zygote = POOL.acquire(spec)
    try:
        descriptors = [req_r, res_w, logs[0].fileno(), logs[1].fileno()]
        process = zygote.fork(role, descriptors, memory_mb, cpu_s, limit_address_space=not spec.cuda)
    except WarmStartError:
        POOL.release(zygote, None)
        raise
    return zygote, process
