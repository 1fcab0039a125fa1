"""The docker sandbox: one container per worker process, driven through the ``docker`` CLI.

Why the CLI and not the ``docker`` Python SDK: the verifier imports only the standard library, torch
and triton (its workers run in minimal images), and the worker's channel is two byte streams. ``docker
run -i`` attaches the container's stdin and stdout to the pipes the parent already uses for every other
mechanism, demultiplexing the daemon's stream for us; the SDK would hand back a raw multiplexed socket
to parse by hand. No network socket is ever used for the channel.

Inside the container a shell maps the attached streams to the worker's request and result fds (3 and
4), puts /dev/null on stdin and stderr on stdout (so what candidate code prints never enters the result
stream) and execs ``python -m verifier.worker``; ``timeout -s KILL`` as PID 1 bounds the container's
life even if nobody is left to stop it. The container runs with no network, a read-only root, capped
tmpfs scratch and /tmp, memory/pids/file limits, no capabilities, no-new-privileges and a non-root user.

Every container is labelled ``org.kernelkiln.sandbox`` with the parent's host, boot and pid. It is
kept after it exits until the parent has asked whether the OOM killer ended it; a small reaper
process (``sh``: read a lifeline pipe only the parent holds, then ``docker rm -f``) removes it when
the parent closes the session or dies; ``sweep_once`` removes leftovers of dead parents at start-up.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from pathlib import Path

DEFAULT_IMAGE_CPU = "kernelkiln/worker:cpu"
DEFAULT_IMAGE_GPU = "kernelkiln/worker:gpu"
LABEL = "org.kernelkiln.sandbox"
IMAGE_SOURCE_DIR = "/opt/kiln/src"
IMAGE_PATH = "/opt/kiln/venv/bin:/usr/local/cuda/bin:/usr/local/bin:/usr/bin:/bin"
SCRATCH = "/scratch"
UID = 10001
USER = f"{UID}:{UID}"
PIDS_LIMIT = 512
"""Threads count as pids in the container's cgroup (torch's and Triton's pools); processes cannot
be started by candidate code at all (the worker's seccomp filter)."""
HOST_ONLY_VARIABLES = ("LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH", "TRITON_PTXAS_PATH", "TRITON_LIBCUDA_PATH")
"""Host paths that mean nothing in the image (it sets its own)."""


def default_image(cuda: bool) -> str:
    return DEFAULT_IMAGE_GPU if cuda else DEFAULT_IMAGE_CPU


def docker_exe() -> str | None:
    return shutil.which("docker")


def _docker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    exe = docker_exe()
    if exe is None:
        raise FileNotFoundError("docker")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@functools.cache
def image_problem(image: str) -> tuple[str | None, str | None]:
    """(None, image digest) when the daemon answers and has ``image``; else (why not, None)."""
    if docker_exe() is None:
        return "the docker CLI is not installed (make images installs Docker Engine)", None
    try:
        r = _docker("image", "inspect", "--format", "{{.Id}}", image, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"docker did not answer: {e}", None
    if r.returncode != 0:
        err = r.stderr.strip()
        if "Cannot connect" in err or "permission denied" in err.lower():
            return f"no Docker daemon reachable ({err[:200]}); start it with scripts/ensure-docker", None
        return f"image {image} not found ({err[:200]}); build it with make images", None
    return None, r.stdout.strip()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _labels() -> dict[str, str]:
    return {
        LABEL: "1",
        f"{LABEL}.host": socket.gethostname(),
        f"{LABEL}.boot": _boot_id(),
        f"{LABEL}.parent-pid": str(os.getpid()),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Remove sandbox containers whose parent (on this host, this boot) is gone; returns their ids."""
    fmt = '{{.ID}} {{.Label "%s.host"}} {{.Label "%s.boot"}} {{.Label "%s.parent-pid"}}' % ((LABEL,) * 3)
    try:
        r = _docker("ps", "-a", "--filter", f"label={LABEL}", "--format", fmt)
    except (OSError, subprocess.TimeoutExpired):
        return []
    host, boot, dead = socket.gethostname(), _boot_id(), []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[1] != host or parts[2] != boot or not parts[3].isdigit():
            continue
        if not _alive(int(parts[3])):
            dead.append(parts[0])
    if dead:
        _docker("rm", "-f", *dead)
    return dead


@functools.cache
def sweep_once() -> None:
    """The start-up sweep (once per process)."""
    sweep()


def container_env(env: dict[str, str]) -> dict[str, str]:
    """The worker environment (built for scratch at /scratch) adapted to the image."""
    out = {k: v for k, v in env.items() if k not in HOST_ONLY_VARIABLES}
    out["PATH"] = IMAGE_PATH
    out["PYTHONPATH"] = IMAGE_SOURCE_DIR
    return out


def run_argv(
    *,
    name: str,
    image: str,
    role: str,
    env: dict[str, str],
    package_dir: Path,
    memory_limit_mb: int,
    timeout_s: float,
    scratch_cap_bytes: int,
    tmp_cap_bytes: int,
    cuda: bool,
) -> list[str]:
    """The ``docker run`` command line for one worker; its stdin/stdout are the channel.

    The parent's own verifier package is mounted read-only over the image's copy, so parent and
    worker always speak the same protocol (the image supplies Python, torch and triton)."""
    exe = docker_exe() or "docker"
    tmpfs_opts = "rw,nosuid,nodev" + (",exec" if cuda else ",noexec")
    argv = [
        exe,
        "run",
        "-i",
        "--pull",
        "never",
        "--name",
        name,
        "--sig-proxy=false",
        "--log-driver",
        "none",
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--user",
        USER,
        "--hostname",
        "kiln-sandbox",
        "--memory",
        f"{memory_limit_mb}m",
        "--memory-swap",
        f"{memory_limit_mb}m",
        "--pids-limit",
        str(PIDS_LIMIT),
        "--ulimit",
        "core=0",
        "--ulimit",
        "nofile=4096",
        "--ulimit",
        f"fsize={1 << 30}",
        "--ulimit",
        f"cpu={int(timeout_s) + 30}",
        "--tmpfs",
        f"{SCRATCH}:{tmpfs_opts},size={scratch_cap_bytes},mode=1777,uid={UID},gid={UID}",
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,noexec,size={tmp_cap_bytes},mode=1777",
        "--mount",
        f"type=bind,source={package_dir},target={IMAGE_SOURCE_DIR}/verifier,readonly",
        "--workdir",
        SCRATCH,
    ]
    for key, value in _labels().items():
        argv += ["--label", f"{key}={value}"]
    for key, value in sorted(container_env(env).items()):
        argv += ["--env", f"{key}={value}"]
    if cuda:
        argv += ["--gpus", "all"]
    shim = f"exec python -m verifier.worker {role} 3 4 3<&0 4>&1 0</dev/null 1>&2"
    argv += [image, "timeout", "-s", "KILL", str(int(timeout_s) + 60), "sh", "-c", shim]
    return argv


def start_reaper(name: str) -> int:
    """Start a process that removes container ``name`` once the returned fd is closed (by ``close``
    or by the parent's death); returns that fd (the lifeline's write end)."""
    exe = docker_exe() or "docker"
    life_r, life_w = os.pipe()
    try:
        subprocess.Popen(
            ["sh", "-c", 'cat >/dev/null; exec "$0" rm -f "$1" >/dev/null 2>&1', exe, name],
            stdin=life_r,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(life_r)
    return life_w


def oom_killed(name: str) -> bool:
    """Whether the kernel's OOM killer ended container ``name`` (its memory limit)."""
    try:
        r = _docker("inspect", "--format", "{{.State.OOMKilled}}", name, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.stdout.strip() == "true"


def kill(name: str) -> None:
    try:
        _docker("kill", name, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        pass
