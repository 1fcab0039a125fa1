"""Run one sandbox worker process and talk to it over private pipes.

The parent writes a request (and later commands) to the worker's request pipe and reads
authenticated frames from its result pipe. stdout/stderr go to unlinked files that only the parent
can read; they are kept as untrusted logs and never parsed for results. A deadline, a memory
watchdog and process-group kills make sure the parent survives any worker behaviour.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from verifier.channel import Frame, FrameReader, ProtocolError, encode_header
from verifier.sandbox import docker as dock
from verifier.sandbox import isolation as iso
from verifier.sandbox.environment import prepare_scratch, worker_environment
from verifier.sandbox.processes import descendants, tree_rss_bytes

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LOG_TAIL_BYTES = 4000
SCRATCH_CAP_BYTES = 1536 << 20
"""Total size of a quota'd worker's scratch directory (with /tmp's cap: 2 GiB of files at most)."""
POLL_S = 0.2


@dataclass
class WorkerExit:
    """How a worker ended, as the parent observed it."""

    returncode: int | None = None
    timed_out: bool = False
    memory_exceeded: bool = False
    protocol_error: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0

    def describe(self, timeout_s: float, memory_limit_mb: int) -> str:
        """A sentence saying how the process ended, for a rejection reason."""
        if self.timed_out:
            return f"timed out: no result within {timeout_s:g} s (process killed)"
        if self.memory_exceeded:
            return f"exceeded the memory limit of {memory_limit_mb} MiB (process killed)"
        if self.protocol_error:
            return f"broke the result channel: {self.protocol_error}"
        rc = self.returncode
        if rc is None:
            return "did not exit"
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            return f"crashed ({name})"
        return f"exited with code {rc} before reporting all results"


@dataclass
class WorkerSession:
    """One sandboxed worker: ``start`` it, ``receive`` frames, ``command`` it, ``close`` it."""

    role: str
    isolation: iso.Isolation
    timeout_s: float
    memory_limit_mb: int
    cuda: bool
    max_result_bytes: int = 1 << 36
    max_header_bytes: int = 64 << 20
    """Frames whose declared header or payload exceeds these are refused before they are buffered."""
    authenticated: bool = True
    """False for the candidate worker: no key is sent (its frames are claims; see verifier.channel)."""
    quota: bool = False
    """Give the worker a size-capped tmpfs scratch directory (bwrap): its files and /tmp then come out
    of the memory budget (``memory_limit_mb`` covers the process and both caps)."""
    warm: bool = False
    """Fork the worker from a warm server (:mod:`verifier.sandbox.warm`) when the sandbox allows it;
    ``started_warm`` then says whether it was (a failed warm start falls back to a cold one)."""
    interpret: bool | None = None
    """Run Triton kernels in its interpreter (``TRITON_INTERPRET=1``); None: on a CPU only. The compile
    worker sets False: Triton's compiler cannot run where the interpreter was on at import."""
    keep_frames: bool = True
    """Keep every frame in ``frames`` (the reference role reads them after close; the candidate role
    handles each as it arrives and keeps none, so outputs are not held twice)."""
    frames: list[Frame] = field(default_factory=list)
    exit: WorkerExit = field(default_factory=WorkerExit)

    def __post_init__(self) -> None:
        self._key = secrets.token_bytes(32) if self.authenticated else None
        self._reader = FrameReader(self._key, self.max_result_bytes, self.max_header_bytes)
        self._proc: Any = None  # subprocess.Popen, or a warm.WarmProcess answering the same calls
        self._scratch: Path | None = None
        self._req_w: int | None = None
        self._res_r: int | None = None
        self._logs: tuple[IO[bytes], IO[bytes]] | None = None
        self._deadline = 0.0
        self._started = 0.0
        self._eof = False
        self._writer: threading.Thread | None = None
        self._last_memory_check = 0.0
        self._arrived = 0.0
        self._queue: collections.deque[Frame] = collections.deque()
        self._container: str | None = None
        self._lifeline: int | None = None
        self._zygote: Any = None
        self.started_warm = False
        self.warm_problem: str | None = None

    @classmethod
    def for_run(
        cls, role: str, isolation: iso.Isolation, options: Any, device: str, *, authenticated: bool, **fields: Any
    ) -> WorkerSession:
        """A worker of ``role`` with the run's limits (``options``: a VerifyOptions) on ``device``: a
        candidate run's worker, so warm where it can be, under the scratch quota, its frames not kept
        (``fields`` set anything else, or override these)."""
        defaults = {"keep_frames": False, "quota": True, "warm": True}
        return cls(
            role,
            isolation,
            options.timeout_s,
            options.memory_limit_mb,
            cuda=device == "cuda",
            authenticated=authenticated,
            **(defaults | fields),
        )

    def limit_frames(self, max_blob_bytes: int, max_header_bytes: int) -> None:
        """Tighten what one frame may declare (before it is buffered), once the parent knows what the
        conversation can produce."""
        self.max_result_bytes = min(self.max_result_bytes, max_blob_bytes)
        self.max_header_bytes = min(self.max_header_bytes, max_header_bytes)
        self._reader.limit(self.max_result_bytes, self.max_header_bytes)

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, request: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix=f"kiln-{self.role}-"))
        prepare_scratch(self._scratch)
        req_r, self._req_w = os.pipe()
        self._res_r, res_w = os.pipe()
        worker_argv = [sys.executable, "-m", "verifier.worker", self.role, str(req_r), str(res_w)]
        if self.isolation.mechanism == "bwrap":
            argv = iso.bwrap_argv(
                worker_argv, self._scratch, PACKAGE_DIR, self.cuda, SCRATCH_CAP_BYTES if self.quota else None
            )
        elif self.isolation.mechanism == "unshare":
            argv = iso.unshare_argv(worker_argv, self._scratch, SCRATCH_CAP_BYTES if self.quota else None)
        else:
            argv = worker_argv
        env = worker_environment(self._scratch, str(PACKAGE_DIR.parent), interpret_triton=self.interpret_triton)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._logs = (out, err)
        self._started = time.monotonic()
        self._deadline = self._started + self.timeout_s
        if self.isolation.mechanism == "docker":
            self._start_container(req_r, res_w, out, err)
        elif not (self.warm and self._start_warm(req_r, res_w, out, err)):
            self._start_process(argv, env, req_r, res_w, out, err)
        header = encode_header({**request, "key": self._key.hex()} if self._key else request)
        self._write_async([len(header).to_bytes(8, "big"), header, sum(map(len, blobs)).to_bytes(8, "big"), *blobs])

    def _start_process(
        self, argv: list[str], env: dict[str, str], req_r: int, res_w: int, out: IO[bytes], err: IO[bytes]
    ) -> None:
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self._scratch,
                pass_fds=(req_r, res_w),
                start_new_session=True,
                preexec_fn=iso.resource_limiter(
                    self.process_memory_mb(), int(self.timeout_s) + 30, limit_address_space=not self.cuda
                ),
            )
        finally:
            os.close(req_r)
            os.close(res_w)

    def _start_warm(self, req_r: int, res_w: int, out: IO[bytes], err: IO[bytes]) -> bool:
        """Fork the worker from a pooled warm server; False (and ``warm_problem``) if that failed."""
        from verifier.sandbox import warm

        if not warm.enabled(self.isolation.mechanism, self.cuda):
            return False
        try:
            spec = warm.ServerSpec(
                self.isolation, self.cuda, PACKAGE_DIR, SCRATCH_CAP_BYTES if self.quota else None, self.interpret_triton
            )
            self._zygote, self._proc = warm.start_worker(
                spec, self.role, req_r, res_w, (out, err), self.process_memory_mb(), int(self.timeout_s) + 30
            )
        except (warm.WarmStartError, OSError) as e:
            self.warm_problem = str(e)[:500]
            return False
        os.close(req_r)
        os.close(res_w)
        self.started_warm = True
        return True

    def _start_container(self, req_r: int, res_w: int, out: IO[bytes], err: IO[bytes]) -> None:
        """docker: the container's attached stdin/stdout are the request and result pipes (see
        verifier.sandbox.docker); the scratch directory is a tmpfs inside the container."""
        self._container = f"kiln-{self.role}-{secrets.token_hex(6)}"
        env = worker_environment(Path(dock.SCRATCH), dock.IMAGE_SOURCE_DIR, interpret_triton=self.interpret_triton)
        argv = dock.run_argv(
            name=self._container,
            image=self.isolation.image or dock.default_image(self.cuda),
            role=self.role,
            env=env,
            package_dir=PACKAGE_DIR,
            memory_limit_mb=self.memory_limit_mb,
            timeout_s=self.timeout_s,
            scratch_cap_bytes=SCRATCH_CAP_BYTES,
            tmp_cap_bytes=iso.TMP_CAP_BYTES,
            cuda=self.cuda,
        )
        self._lifeline = dock.start_reaper(self._container)
        try:
            self._proc = subprocess.Popen(
                argv, stdin=req_r, stdout=res_w, stderr=err, cwd=self._scratch, start_new_session=True
            )
        finally:
            os.close(req_r)
            os.close(res_w)

    @property
    def interpret_triton(self) -> bool:
        return not self.cuda if self.interpret is None else self.interpret

    def process_memory_mb(self) -> int:
        """The process tree's share of ``memory_limit_mb`` (less the RAM-backed file caps under a quota)."""
        if self.quota and self.isolation.mechanism in ("bwrap", "unshare"):
            files_mb = (SCRATCH_CAP_BYTES + iso.TMP_CAP_BYTES) >> 20
            return max(1024, self.memory_limit_mb - files_mb)
        return self.memory_limit_mb

    def command(self, obj: dict[str, Any]) -> None:
        """Send a follow-up command (length-prefixed JSON) after the initial request."""
        self._join_writer()
        header = encode_header(obj)
        self._write_all([len(header).to_bytes(8, "big"), header])

    def message(self, obj: dict[str, Any], blobs: Sequence[bytes] = ()) -> float:
        """Send a command with tensor data (header and blob, like the request) without blocking the
        reader; returns the parent's clock when it was queued."""
        self._join_writer()
        header = encode_header(obj)
        sent = time.monotonic()
        self._write_async([len(header).to_bytes(8, "big"), header, sum(map(len, blobs)).to_bytes(8, "big"), *blobs])
        return sent

    def _join_writer(self) -> None:
        if self._writer is not None:
            self._writer.join(timeout=max(0.0, self._deadline - time.monotonic()))
            self._writer = None

    def _write_async(self, parts: list[bytes]) -> None:
        self._writer = threading.Thread(target=self._write_all, args=(parts,), daemon=True)
        self._writer.start()

    def _write_all(self, parts: Sequence[bytes]) -> None:
        """Write each part in turn (no joined copy of large payloads)."""
        fd = self._req_w
        if fd is None:
            return
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
        except (BrokenPipeError, OSError):
            pass  # the worker died or stopped reading; the reader side reports why

    def receive(self, stop_kinds: set[str], on_frame: Callable[[Frame], None] | None = None) -> Frame | None:
        """Read frames until one whose kind is in ``stop_kinds`` (returned), or EOF/timeout/fault (None).

        Frames read past the returned one stay queued for the next call."""
        assert self._proc is not None and self._res_r is not None
        while True:
            while self._queue:
                frame = self._queue.popleft()
                if frame.kind in stop_kinds:
                    return frame
                if on_frame is not None:
                    on_frame(frame)
            if self._eof:
                return None
            if self.exit.protocol_error:
                self._kill()
                return None
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                self.exit.timed_out = True
                self._kill()
                return None
            ready, _, _ = select.select([self._res_r], [], [], min(POLL_S, remaining))
            if ready:
                try:
                    data = os.read(self._res_r, 1 << 20)
                except OSError:
                    data = b""
                if not data:
                    self._eof = True
                else:
                    self._arrived = time.monotonic()  # frames are stamped when their bytes arrive
                    self._reader.feed(data)
                self._drain()
            now = time.monotonic()
            if now - self._last_memory_check >= POLL_S:
                self._last_memory_check = now
                if self._memory_exceeded():
                    self.exit.memory_exceeded = True
                    self._kill()
                    return None

    def _drain(self) -> None:
        try:
            for frame in self._reader.frames():
                frame.received_at = self._arrived
                if self.keep_frames:
                    self.frames.append(frame)
                self._queue.append(frame)
        except ProtocolError as e:
            self.exit.protocol_error = str(e)

    def close(self, grace_s: float = 5.0) -> WorkerExit:
        """Stop the worker (politely, then by force), collect logs, remove the scratch directory."""
        if self._req_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._req_w)
            self._req_w = None
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=max(0.1, min(grace_s, self._deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                self._kill()
                proc.wait()
            self.exit.returncode = proc.returncode
            if self._container is not None and not self.exit.timed_out and dock.oom_killed(self._container):
                self.exit.memory_exceeded = True
        if self._zygote is not None:  # the server goes back to the pool once the child's exit is known
            from verifier.sandbox import warm

            warm.POOL.release(self._zygote, self._proc)  # type: ignore[arg-type]
            self._zygote = None
        if self._res_r is not None:
            os.close(self._res_r)
            self._res_r = None
        if self._lifeline is not None:  # the reaper removes the container if it is still there
            os.close(self._lifeline)
            self._lifeline = None
        if self._logs is not None:
            self.exit.stdout_tail, self.exit.stderr_tail = (_tail(f) for f in self._logs)
            for f in self._logs:
                f.close()
            self._logs = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self.exit.wall_s = time.monotonic() - self._started
        return self.exit

    # ---- enforcement ----------------------------------------------------------------------
    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if self._container is not None:  # killing the docker CLI would leave the container running
            dock.kill(self._container)
        victims = descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _memory_exceeded(self) -> bool:
        proc = self._proc
        if proc is None or self._container is not None:  # docker: the container's cgroup enforces it
            return False
        rss = tree_rss_bytes(proc.pid)
        self.exit.peak_rss_mb = max(self.exit.peak_rss_mb, rss / (1 << 20))
        return rss > (self.process_memory_mb() << 20)

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._kill()
        self.close(grace_s=0.5)


HARNESS_LOG_LINE = re.compile(r"^(?:USDT|STAGE):\d{4}-\d\d-\d\d [\d:]+ \d+:\d+ \w+\.cpp:\d+\] .*$\n?", re.M)
"""The profiler's own log lines (libkineto, one pair per recorded call): the harness's noise, not the
candidate's output, so they are left out of a report's logs."""


def _tail(f: IO[bytes]) -> str:
    """The last ``LOG_TAIL_BYTES`` of what the process printed, without the profiler's log lines."""
    f.flush()
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - 16 * LOG_TAIL_BYTES))
    text = HARNESS_LOG_LINE.sub("", f.read().decode("utf-8", errors="replace"))
    return text[-LOG_TAIL_BYTES:]
