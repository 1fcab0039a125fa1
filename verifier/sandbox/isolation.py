"""OS isolation for sandbox workers: Docker, bubblewrap or util-linux unshare (resource limits alone
only for code the caller vouches for).

``auto`` picks the strongest mechanism that works on this host, probing each once per process:

- ``docker``: one container per worker (``verifier.sandbox.docker``): no network, read-only root,
  capped tmpfs scratch and /tmp, memory/pids limits, no capabilities, a non-root user. ``auto``
  takes it when an image is configured (``KILN_SANDBOX_IMAGE`` or ``VerifyOptions.sandbox_image``)
  and the daemon has that image; ``--sandbox docker`` alone uses ``kernelkiln/worker:cpu``.

- ``bwrap``: new user, PID, network, IPC, UTS and mount namespaces; the worker sees a read-only
  view of the system and Python directories, the verifier package, a fresh /proc and /dev, a tmpfs
  /tmp and its own scratch directory — no home directories, no project files, no other processes.
- ``unshare``: new user, network, PID (fresh /proc), IPC and UTS namespaces; the file system stays
  visible, so only the scratch directory is private by convention. Refused when run by root (no
  user namespace then: the worker would be root on the host's files).
- ``none`` (only with ``trusted_code``: ``auto`` never chooses it): resource limits, a scrubbed
  environment and a private scratch directory only. Reports say so: network access is then blocked
  only by the in-process guard.

Resource limits (address space on CPU, file size, open files, core dumps, CPU seconds) apply to
every mechanism.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import SandboxUnavailableError

MECHANISMS = ("docker", "bwrap", "unshare", "none")


@dataclass(frozen=True)
class Isolation:
    mechanism: str
    network: str
    filesystem: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    image: str | None = None
    """docker: the worker image's name, and below its content digest (the image ID, sha256:...)."""
    image_digest: str | None = None

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mechanism": self.mechanism,
            "network": self.network,
            "filesystem": self.filesystem,
            "notes": list(self.notes),
        }
        if self.image is not None:
            out.update(image=self.image, image_digest=self.image_digest)
        return out


def _probe(argv: list[str]) -> str | None:
    """Run ``argv`` (which should exit 0 at once); return None if it worked, else why not."""
    try:
        r = subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if r.returncode != 0:
        return (r.stderr.decode(errors="replace").strip() or f"exit code {r.returncode}")[:300]
    return None


@functools.cache
def bwrap_problem() -> str | None:
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (Debian: apt-get install bubblewrap)"
    return _probe([exe, *_bwrap_namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "true"])


UNSHARE_AS_ROOT = (
    "unshare run by root makes no user namespace: the worker would keep root's capabilities and write "
    "access to the host's file system; install bubblewrap (apt-get install bubblewrap), which drops them"
)


@functools.cache
def unshare_problem() -> str | None:
    exe = shutil.which("unshare")
    if exe is None:
        return "unshare (util-linux) is not installed"
    if os.geteuid() == 0:
        return UNSHARE_AS_ROOT
    return _probe([exe, *_unshare_args(), "true"])


def _bwrap_namespace_args() -> list[str]:
    args = [
        "--unshare-user-try",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    if os.geteuid() == 0:
        # Run by root, bwrap creates no user namespace and keeps every capability (CAP_SYS_PTRACE,
        # CAP_SYS_ADMIN, CAP_SYS_MODULE...) for the sandboxed process unless told otherwise.
        args += ["--cap-drop", "ALL"]
    return args


def _unshare_args() -> list[str]:
    """A user namespace (never run as root: see ``unshare_problem``), then the rest."""
    return [
        "--user",
        "--map-root-user",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--mount-proc",
        "--ipc",
        "--uts",
    ]


NO_ISOLATION_FIX = (
    "no sandbox that gives untrusted code a private mount namespace and no network is available on this "
    "host: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or allow unprivileged user "
    "namespaces for unshare"
)
TRUSTED_CODE_HINT = "; to run code you trust without one, pass --sandbox none --trusted-code"
"""Said by ``choose`` after ``NO_ISOLATION_FIX``; commands without ``--sandbox none`` leave it out."""


def choose(requested: str, trusted_code: bool = False, image: str | None = None, cuda: bool = False) -> Isolation:
    """Resolve ``auto`` or check that the requested mechanism works here.

    ``image`` (else ``KILN_SANDBOX_IMAGE``) names the docker worker image; ``auto`` considers docker
    only when one is named this way, so hosts without that setting keep bwrap.

    ``auto`` never runs untrusted code with less than a private mount namespace and no network:
    without bwrap or unshare it refuses (SandboxUnavailableError naming the fix). ``none`` needs
    ``trusted_code``: the caller vouches for the code it verifies."""
    if requested not in ("auto", *MECHANISMS):
        raise SandboxUnavailableError(f"unknown sandbox mechanism {requested!r}")
    if requested == "none" and not trusted_code:
        raise SandboxUnavailableError(
            "--sandbox none runs the candidate with no OS isolation: say the code is trusted "
            "(--trusted-code, VerifyOptions(trusted_code=True)) or use auto/bwrap/unshare"
        )
    notes: list[str] = []
    configured = image or os.environ.get("KILN_SANDBOX_IMAGE") or None
    if requested == "docker" or (requested == "auto" and configured):
        from verifier.sandbox import docker

        name = configured or docker.default_image(cuda)
        problem, digest = docker.image_problem(name)
        if problem is None:
            docker.sweep_once()
            return Isolation(
                "docker",
                "isolated (--network none)",
                "read-only image root; private tmpfs scratch and /tmp (size-capped); no host files",
                tuple(notes),
                image=name,
                image_digest=digest,
            )
        if requested == "docker":
            raise SandboxUnavailableError(f"docker sandbox unavailable: {problem}")
        notes.append(f"docker unavailable: {problem}")
    namespaces = (  # strongest first; each probe is looked up now (tests replace them)
        ("bwrap", bwrap_problem, "read-only system view + private scratch"),
        ("unshare", unshare_problem, "host file system visible; private scratch, fresh /proc"),
    )
    for mechanism, problem_here, file_system in namespaces:
        if requested not in ("auto", mechanism):
            continue
        problem = problem_here()
        if problem is None:
            return Isolation(mechanism, "isolated (empty network namespace)", file_system, tuple(notes))
        if requested == mechanism:
            raise SandboxUnavailableError(f"{mechanism} sandbox unavailable: {problem}")
        notes.append(f"{mechanism} unavailable: {problem}")
    if requested == "auto":
        raise SandboxUnavailableError(f"{NO_ISOLATION_FIX}{TRUSTED_CODE_HINT} ({'; '.join(notes)})")
    notes.append("trusted code, no OS namespaces: network blocked only by the in-process guard; host files visible")
    return Isolation("none", "not isolated by the OS (in-process guard only)", "host file system visible", tuple(notes))


def _python_roots() -> list[Path]:
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    exe = Path(sys.executable)
    roots.add(exe.parent)
    roots.add(exe.resolve().parent.parent)
    for entry in sys.path:
        p = Path(entry)
        if p.is_dir() and ("site-packages" in p.parts or "dist-packages" in p.parts):
            roots.add(p)
    return sorted(roots, key=lambda p: len(p.parts))


def _dedupe_nested(paths: list[Path]) -> list[Path]:
    kept: list[Path] = []
    for p in sorted({q.resolve() for q in paths if q.exists()}, key=lambda q: len(q.parts)):
        if not any(p == k or k in p.parents for k in kept):
            kept.append(p)
    return kept


TMP_CAP_BYTES = 512 << 20
"""Size cap of the sandbox's /tmp (a RAM tmpfs under bwrap; TMPDIR points into scratch instead)."""


def bwrap_argv(
    worker_argv: list[str], scratch: Path, package_dir: Path, cuda: bool, scratch_cap_bytes: int | None = None
) -> list[str]:
    """The bwrap command line that runs ``worker_argv`` with only what a worker needs visible.

    /tmp is a tmpfs capped at ``TMP_CAP_BYTES``; with ``scratch_cap_bytes`` the scratch directory is a
    tmpfs of that size too (a total quota, counted in the memory budget by the caller), else the
    host directory bound in."""
    argv = [shutil.which("bwrap") or "bwrap", *_bwrap_namespace_args(), "--hostname", "kiln-sandbox"]
    for top in ("/usr", "/opt"):
        if Path(top).is_dir():
            argv += ["--ro-bind", top, top]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        p = Path(top)
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            argv += ["--ro-bind", top, top]
    for etc in (
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "alternatives",
        "passwd",
        "group",
        "nsswitch.conf",
        "localtime",
        "os-release",
    ):
        argv += ["--ro-bind-try", f"/etc/{etc}", f"/etc/{etc}"]
    # /proc, /dev and the /tmp tmpfs first: later binds may live under /tmp (a checkout or venv there).
    argv += [
        "--ro-bind",
        "/sys",
        "/sys",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(TMP_CAP_BYTES),
        "--tmpfs",
        "/tmp",
    ]
    extra = [*_python_roots(), package_dir]
    if cuda:
        extra += [Path("/usr/local/nvidia")]
    for root in _dedupe_nested(extra):
        if not str(root).startswith(("/usr/", "/opt/")):
            argv += ["--ro-bind", str(root), str(root)]
    if cuda:
        for dev in sorted(Path("/dev").glob("nvidia*")):
            argv += ["--dev-bind", str(dev), str(dev)]
        if Path("/dev/dri").exists():
            argv += ["--dev-bind", "/dev/dri", "/dev/dri"]
    if scratch_cap_bytes is not None:
        argv += ["--size", str(scratch_cap_bytes), "--tmpfs", str(scratch)]
    else:
        argv += ["--bind", str(scratch), str(scratch)]
    # bwrap builds the sandbox's root (and the directories holding the binds: /etc, /root...) on a
    # tmpfs the worker could otherwise write to (an /etc/ld.so.preload for every later exec): make it
    # read-only; scratch, /tmp and /dev stay writable (separate mounts).
    return [*argv, "--remount-ro", "/", "--chdir", str(scratch), "--", *worker_argv]


def unshare_argv(
    worker_argv: list[str], scratch: Path | None = None, scratch_cap_bytes: int | None = None
) -> list[str]:
    """``unshare`` around the worker; with ``scratch_cap_bytes``, scratch and /tmp become size-capped
    tmpfs mounts inside the worker's private mount namespace (when the mount is refused the worker
    still runs, on the host directories, and says so on stderr)."""
    argv = [shutil.which("unshare") or "unshare", *_unshare_args()]
    if scratch is None or scratch_cap_bytes is None:
        return [*argv, *worker_argv]
    # /tmp first (scratch usually lives under it), then scratch inside the new /tmp
    script = (
        '{ mount -t tmpfs -o size="$3",mode=1777 kiln-tmp /tmp && mkdir -p "$2"'
        ' && mount -t tmpfs -o size="$1",mode=700 kiln-scratch "$2"; }'
        ' || echo "kiln: no tmpfs quota for scratch and /tmp (mount refused)" >&2; cd "$2" && shift 3 && exec "$@"'
    )
    return [
        *argv,
        "/bin/sh",
        "-c",
        script,
        "kiln-unshare",
        str(scratch_cap_bytes),
        str(scratch),
        str(TMP_CAP_BYTES),
        *worker_argv,
    ]


def resource_limiter(memory_limit_mb: int, cpu_seconds: int, limit_address_space: bool) -> Callable[[], None]:
    """A ``preexec_fn`` that applies the worker's resource limits (inherited through exec)."""

    def cap(which: int, soft: int, hard: int) -> None:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))

    def apply() -> None:
        if limit_address_space:
            cap(resource.RLIMIT_AS, memory_limit_mb << 20, memory_limit_mb << 20)
        cap(resource.RLIMIT_CORE, 0, 0)
        cap(resource.RLIMIT_FSIZE, 1 << 30, 1 << 30)
        cap(resource.RLIMIT_NOFILE, 4096, 4096)
        cap(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5)

    return apply
