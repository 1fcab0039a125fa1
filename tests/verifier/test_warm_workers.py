"""Warm workers (verifier.sandbox.warm): forked from a server that imported torch once, each one as
fresh as a cold worker, nothing of one left for the next, and the server out of a child's reach.

The hostile behaviours run as *reference* code through a warm ``WorkerSession``: the reference role
has no guard and no process filter, so these tests see the server's own defences, not the candidate
role's in-process ones."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from verifier import Candidate, Reference, VerifyOptions, codec, prepare, verify
from verifier.sandbox import isolation, warm
from verifier.sandbox.runner import WorkerSession

pytestmark = pytest.mark.skipif(isolation.bwrap_problem() is not None, reason="bwrap is not available here")

BWRAP = isolation.Isolation("bwrap", "isolated", "private")


def _reference_source(forward_body: str) -> str:
    return textwrap.dedent(
        """
        import os, signal, subprocess, time
        import torch

        class Model(torch.nn.Module):
            def forward(self, x):
        {body}

        def get_inputs():
            return [torch.ones(4)]

        def get_init_inputs():
            return []
        """
    ).format(body=textwrap.indent(textwrap.dedent(forward_body), " " * 8))


def _run_warm(source: str, timeout_s: float = 60.0, warm: bool = True) -> tuple[WorkerSession, Any]:
    """Run ``source`` as a reference in a (warm) worker; (session, the call's outputs or None)."""
    session = WorkerSession("reference", BWRAP, timeout_s, 4096, cuda=False, quota=True, warm=warm)
    request = {
        "source": source,
        "device": "cpu",
        "trials": [{"seed": 1, "input_seeds": [2], "shape": "", "overrides": {}}],
        "timing_input_seeds": [],
        "timing": None,
    }
    with session:
        session.start(request)
        session.receive({"done", "error"})
        session.close()
    assert session.started_warm == warm, session.warm_problem
    call = next((f for f in session.frames if f.kind == "call"), None)
    return session, None if call is None else codec.decode(call.header["values"], call.blob)["outputs"]


def _idle_servers() -> list[warm.Zygote]:
    return list(warm.POOL._idle.get(("bwrap", False, True), []))


LEFT_IN = ("/tmp/kiln-left", "/dev/shm/kiln-left", "/dev/kiln-left", "../kiln-left", "/etc/kiln-left", "/kiln-left")


def test_nothing_one_worker_leaves_is_there_for_the_next() -> None:
    leave = """
        import ctypes
        written = []
        for path in PLACES:
            try:
                open(path, "w").write("from the previous worker")
                written.append(1.0)
            except OSError:
                written.append(0.0)
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        segment = ctypes.CDLL(None).shmget(0x4B494C4E, 4096, 0o1600)  # IPC_CREAT | 0600
        return torch.tensor([*written, float(segment >= 0)])
    """
    look = """
        me, parent = os.getpid(), os.getppid()
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me, parent)]
        found = [os.path.exists(p) for p in PLACES]
        segments = open("/proc/sysvipc/shm").read().splitlines()[1:]
        return torch.tensor([float(v) for v in [*found, len(others), len(segments)]])
    """
    places = f"PLACES = {LEFT_IN!r}\n"
    _, written = _run_warm(places + _reference_source(leave))
    assert written is not None, "the leaving worker did not run"
    # scratch, /tmp, /dev and /dev/shm are writable; the sandbox's root (and /etc on it) is not
    assert written.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0], written
    server = _idle_servers()[-1]
    _, seen = _run_warm(places + _reference_source(look))
    assert server in _idle_servers(), "the second worker was not forked from the same server"
    assert seen is not None and seen.tolist() == [0.0] * 8, (
        "left for the next worker (files in PLACES, stray processes, shared memory segments): " + str(seen)
    )


def test_a_worker_cannot_read_or_write_the_servers_memory() -> None:
    probe = """
        opened = []
        for mode in ("rb", "r+b"):
            try:
                with open(f"/proc/{os.getppid()}/mem", mode):
                    opened.append(1.0)
            except OSError:
                opened.append(0.0)
        return torch.tensor(opened)
    """
    _, opened = _run_warm(_reference_source(probe))
    assert opened is not None and opened.tolist() == [0.0, 0.0]


def test_a_worker_that_kills_its_server_ends_and_the_next_gets_a_new_server() -> None:
    session, outputs = _run_warm(_reference_source("os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(30)\nreturn x"))
    assert outputs is None and session.exit.returncode != 0
    _, ok = _run_warm(_reference_source("return x * 2"))
    assert ok is not None and ok.tolist() == [2.0] * 4


def test_a_hung_warm_worker_is_killed_at_its_deadline_and_the_server_serves_again() -> None:
    session, outputs = _run_warm(_reference_source("time.sleep(600)\nreturn x"), timeout_s=8.0)
    assert outputs is None and session.exit.timed_out and session.exit.wall_s < 30
    _, ok = _run_warm(_reference_source("return x + 1"))
    assert ok is not None and ok.tolist() == [2.0] * 4


RELU_REFERENCE = _reference_source("return torch.relu(x)").replace("torch.ones(4)", "torch.randn(64)")
RELU_KERNEL = """
import torch
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.maximum(tl.load(x_ptr + offs, mask=mask), 0.0), mask=mask)


class ModelNew(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 64),)](x, y, x.numel(), BLOCK=64)
        return y{cheat}
"""


def test_candidates_are_verified_in_warm_workers_with_the_same_verdicts() -> None:
    options = VerifyOptions(device="cpu", timeout_s=120)
    prepared = prepare(Reference(RELU_REFERENCE), options)
    honest = verify(prepared, Candidate(RELU_KERNEL.format(cheat="")), options)
    assert honest.verdict == "accepted", honest.reasons
    assert honest.sandbox["worker_start"] == "warm fork"
    stateful = RELU_KERNEL.format(cheat=" if self.calls < 4 else torch.zeros_like(x)")
    cheat = verify(prepared, Candidate(stateful), options)
    assert cheat.verdict == "rejected" and cheat.sandbox["worker_start"] == "warm fork"
    assert any("call 4" in reason for reason in cheat.reasons), cheat.reasons


def test_warm_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_WARM_WORKERS", raising=False)
    assert warm.enabled("bwrap", cuda=False) and warm.enabled("none", cuda=False)
    assert not warm.enabled("unshare", cuda=False) and not warm.enabled("docker", cuda=False)
    assert not warm.enabled("bwrap", cuda=True)  # not on a GPU until measured there
    monkeypatch.setenv("KILN_WARM_WORKERS", "1")
    assert warm.enabled("bwrap", cuda=True)
    monkeypatch.setenv("KILN_WARM_WORKERS", "0")
    assert not warm.enabled("bwrap", cuda=False)


@pytest.mark.parametrize("warm_start", [True, False])
def test_sandboxed_workers_hold_no_capabilities(warm_start: bool) -> None:
    """Run by root, bwrap keeps every capability for the sandboxed process unless it drops them."""
    probe = """
        fields = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
        return torch.tensor([float(int(fields[k].strip(), 16) != 0) for k in ("CapEff", "CapPrm", "CapBnd")])
    """
    _, held = _run_warm(_reference_source(probe), warm=warm_start)
    assert held is not None and held.tolist() == [0.0, 0.0, 0.0]


HIDE = """
    import ctypes, socket, stat
    def locked(directory):
        # a directory the capability-less wipe could not list (0o300) holding a file and a 0o000 one
        os.mkdir(directory)
        open(os.path.join(directory, "secret"), "w").write("from the previous worker")
        os.mkdir(os.path.join(directory, "inner"))
        open(os.path.join(directory, "inner", "secret"), "w").write("from the previous worker")
        os.chmod(os.path.join(directory, "inner"), 0o000)
        os.chmod(directory, 0o300)
    odd = "/tmp/kiln odd\\n\\udcff"
    for place in PLACES:
        locked(place)
    os.mkfifo("/tmp/kiln-fifo")
    socket.socket(socket.AF_UNIX).bind("/tmp/kiln-socket")
    open(odd, "w").write("x")
    os.chmod(odd, 0o000)
    os.symlink("/dev/null", "/tmp/kiln-link")
    for place in ("/tmp", "/dev/shm"):
        os.setxattr(place, "user.kiln", b"from the previous worker")
    os.utime("/tmp", (123456789, 123456789))
    libc = ctypes.CDLL(None)
    queue = libc.mq_open(b"/kiln-left", os.O_CREAT | os.O_RDWR, 0o600, None)
    libc.mq_send(queue, b"from the previous worker", 24, 0)
    made = [float(os.path.lexists(p)) for p in PLACES] + [float(queue >= 0)]
    os.chmod("/dev/shm", 0o000)
    return torch.tensor(made)
"""

SEE = """
    import ctypes, sys
    cwd = os.getcwd()
    mine = {os.path.basename(cwd)}
    # what the sandbox binds (the scratch directory, the project and its venv where they live under /tmp,
    # as in a CI clone at /tmp/ci) is there for every worker: not something a previous one left
    bound = [cwd, sys.prefix, *sys.path]
    ancestors = {n for n in os.listdir("/tmp") if any(b == f"/tmp/{n}" or b.startswith(f"/tmp/{n}/") for b in bound)}
    # named on stderr, so that a failure says what was left, not only that something was
    print("left in ..:", sorted(set(os.listdir("..")) - mine), "in /tmp:", sorted(set(os.listdir("/tmp")) - ancestors),
          "in /dev/shm:", os.listdir("/dev/shm"), file=sys.stderr, flush=True)
    libc = ctypes.CDLL(None)
    queue = libc.mq_open(b"/kiln-left", os.O_RDONLY, 0, None)
    seen = [
        *[os.path.lexists(p) for p in PLACES],
        set(os.listdir("..")) != mine,
        set(os.listdir("/tmp")) != ancestors,
        bool(os.listdir("/dev/shm")),
        bool(os.listdir("/dev/mqueue")),
        queue >= 0,
        bool(os.listxattr("/tmp")) or bool(os.listxattr("/dev/shm")),
        os.stat("/tmp").st_mtime == 123456789,
        stat.S_IMODE(os.stat("/dev/shm").st_mode) != 0o755,
    ]
    return torch.tensor([float(v) for v in seen])
"""

LOCKED_IN = ("../kiln-locked", "/tmp/kiln-locked", "/dev/shm/kiln-locked")


def _hostile(body: str, places: tuple[str, ...] = LOCKED_IN) -> str:
    return f"PLACES = {places!r}\nimport stat\n" + _reference_source(body)


def test_locked_directories_and_odd_files_a_worker_leaves_are_gone_for_the_next() -> None:
    """Directories the wipe cannot list (0o300, 0o000 inside), a fifo, a socket, an unreadable file with
    an odd name, a symlink to a device, extended attributes and times on /tmp, a POSIX message queue."""
    discarded = warm.POOL.discarded
    session, hidden = _run_warm(_hostile(HIDE))
    assert hidden is not None and hidden.tolist() == [1.0] * 4, (hidden, session.exit.stderr_tail)
    server = _idle_servers()[-1]
    looked, seen = _run_warm(_hostile(SEE))
    assert seen is not None and seen.tolist() == [0.0] * 11, (
        f"left for the next worker: {seen} {looked.exit.stderr_tail}"
    )
    assert warm.POOL.discarded == discarded, warm.POOL.last_discard
    assert server in _idle_servers(), "the wipe left something: the server was not reused"


def test_the_first_worker_of_a_fresh_server_finds_the_sandbox_as_every_later_one() -> None:
    """What the server's own imports write (torch's /tmp/torchinductor_<user>) is gone before its first
    child: before, only the first child of each server saw it, and whether a test's worker got a fresh or a
    reused server decided whether /tmp looked empty."""
    warm.POOL.shutdown()  # the next worker forks from a server started now
    looked, seen = _run_warm(_hostile(SEE))
    assert seen is not None and seen.tolist() == [0.0] * 11, f"{seen} {looked.exit.stderr_tail}"


FILL = """
    import errno
    os.mkdir("/tmp/kiln-full")
    chunk, written = b"\\0" * (1 << 20), 0
    with open("/tmp/kiln-full/fill", "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(chunk)
        except OSError as e:
            full = e.errno == errno.ENOSPC
    os.mkdir("/tmp/kiln-full/inner")
    os.chmod("/tmp/kiln-full/inner", 0o000)
    os.chmod("/tmp/kiln-full", 0o300)
    return torch.tensor([float(full), float(written >> 20)])
"""

WRITE = """
    chunk = b"\\0" * (1 << 20)
    wrote = []
    for path in ("/tmp/kiln-room", "kiln-room"):
        try:
            with open(path, "wb") as f:
                for _ in range(64):
                    f.write(chunk)
            wrote.append(1.0)
        except OSError:
            wrote.append(0.0)
    return torch.tensor([*wrote, float(os.path.lexists("/tmp/kiln-full"))])
"""


def test_a_worker_that_fills_tmp_leaves_room_for_the_next() -> None:
    """/tmp filled to ENOSPC from inside a 0o300 directory: the same server frees it all."""
    discarded = warm.POOL.discarded
    _, filled = _run_warm(_reference_source(FILL))
    assert filled is not None and filled[0] == 1.0 and filled[1] >= 400, filled
    server = _idle_servers()[-1]
    _, wrote = _run_warm(_reference_source(WRITE))
    assert wrote is not None and wrote.tolist() == [1.0, 1.0, 0.0], wrote
    assert warm.POOL.discarded == discarded and server in _idle_servers(), warm.POOL.last_discard


DEEP = """
    os.makedirs("/tmp/kiln-deep/" + "/".join(["d"] * (MAX_DEPTH + 8)))
    open("/tmp/kiln-deep/" + "/".join(["d"] * (MAX_DEPTH + 8)) + "/secret", "w").write("from the previous worker")
    return x
"""


def test_a_server_whose_wipe_leaves_something_is_discarded() -> None:
    """A tree deeper than the wipe descends stays behind: the server reports it and is not reused; the
    next worker gets a new server (new /tmp) and sees nothing of it."""
    from verifier.worker.wipe import MAX_DEPTH

    _run_warm(_reference_source("return x"))
    server, discarded = _idle_servers()[-1], warm.POOL.discarded
    _run_warm(f"MAX_DEPTH = {MAX_DEPTH}\n" + _reference_source(DEEP))
    assert warm.POOL.discarded == discarded + 1 and server not in _idle_servers()
    assert warm.POOL.last_discard is not None and "/tmp/kiln-deep (directory)" in warm.POOL.last_discard, (
        warm.POOL.last_discard
    )
    assert not server.alive()
    _, seen = _run_warm(_reference_source('return torch.tensor([float(os.path.lexists("/tmp/kiln-deep"))])'))
    assert seen is not None and seen.tolist() == [0.0]
    assert _idle_servers() and server not in _idle_servers(), "the next worker did not get a new server"


def test_cleaning_up_after_a_worker_that_left_nothing_takes_milliseconds() -> None:
    """The wipe and the check add little to a warm start (about 2 ms on a 2-core host)."""
    times = []
    for _ in range(3):
        session, ok = _run_warm(_reference_source("return x"))
        assert ok is not None and session._proc.residue == []
        times.append(session._proc.cleanup_ms)
    assert min(times) < 100, times
