"""The docker sandbox with a real daemon: verdicts through containers, escapes that fail inside them,
and no container left behind by a killed parent.

Needs a Docker daemon and kernelkiln/worker:cpu (``scripts/ensure-docker``, ``make images``); skips
with the reason otherwise, unless KILN_REQUIRE_DOCKER=1 (CI), where a missing daemon or image fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.verifier.conftest import (
    REFERENCE_FILE,
    RUNTIME_OPTIONS,
    CorpusEntry,
    corpus_entry,
    unreachable_listener,
    verify_honest_and_socket_escape,
)
from tests.verifier.test_corpus import RUNTIME_ENTRIES, assert_verdict
from verifier import PreparedReference, Reference, VerifyOptions, prepare, verify
from verifier.errors import SandboxUnavailableError
from verifier.examples import CANDIDATE, REFERENCE
from verifier.sandbox import docker, isolation
from verifier.sandbox.runner import PACKAGE_DIR

IMAGE = os.environ.get("KILN_SANDBOX_IMAGE") or docker.DEFAULT_IMAGE_CPU
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docker_isolation() -> isolation.Isolation:
    problem, _ = docker.image_problem(IMAGE)
    if problem is not None:
        if os.environ.get("KILN_REQUIRE_DOCKER") == "1":
            pytest.fail(f"docker sandbox required (KILN_REQUIRE_DOCKER=1) but unavailable: {problem}")
        pytest.skip(f"docker sandbox unavailable: {problem}")
    return isolation.choose("docker", image=IMAGE)


def _ours() -> list[str]:
    """Sandbox containers started by this test process."""
    r = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label={docker.LABEL}.parent-pid={os.getpid()}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout.split()


def test_bundled_example_is_accepted_through_docker(docker_isolation: isolation.Isolation) -> None:
    r = subprocess.run(
        [
            *(str(Path(sys.executable).parent / "kiln"), "verify", "--sandbox", "docker", "--image", IMAGE, "--json"),
            *("--reference", str(REFERENCE), "--candidate", str(CANDIDATE), "--timeout", "150"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=400,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["verdict"] == "accepted", report["reasons"]
    assert report["sandbox"]["mechanism"] == "docker"
    assert report["sandbox"]["image"] == IMAGE
    assert report["sandbox"]["image_digest"] == docker_isolation.image_digest
    assert report["sandbox"]["image_digest"].startswith("sha256:")


def _probe_argv(tmp_path: Path, script: str) -> list[str]:
    """The worker's docker run command line, running ``script`` instead of the worker."""
    argv = docker.run_argv(
        name=f"kiln-probe-{os.getpid()}-{time.monotonic_ns()}",
        image=IMAGE,
        role="candidate",
        env={"PATH": "/usr/bin"},
        package_dir=PACKAGE_DIR,
        memory_limit_mb=512,
        timeout_s=60,
        scratch_cap_bytes=8 << 20,
        tmp_cap_bytes=4 << 20,
        cuda=False,
    )
    return [argv[0], "run", "--rm", *argv[2 : argv.index(IMAGE) + 1], "python", "-c", script]


PROBE = r"""
import json, os, socket
out = {}
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", PORT)); out["connect"] = "connected"
except OSError as e:
    out["connect"] = type(e).__name__
out["interfaces"] = sorted(name for _, name in socket.if_nameindex())
for path in ("/opt/kiln/src/verifier/evil.py", "/etc/evil", "/usr/evil", "/evil", HOST_DIR + "/written"):
    try:
        with open(path, "w") as f:
            f.write("x")
        out[path] = "written"
    except OSError as e:
        out[path] = type(e).__name__
try:
    out["secret"] = open(SECRET).read()
except OSError as e:
    out["secret"] = type(e).__name__
try:
    with open("/scratch/big", "wb") as f:
        f.write(b"x" * (16 << 20))
    out["scratch_cap"] = "not enforced"
except OSError as e:
    out["scratch_cap"] = type(e).__name__
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
out["uid"] = os.getuid()
out["cap_eff"] = status["CapEff"].strip()
out["no_new_privs"] = status["NoNewPrivs"].strip()
print(json.dumps(out))
"""


def test_network_file_write_and_host_read_fail_inside_the_container(
    docker_isolation: isolation.Isolation, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    with unreachable_listener() as port:  # nothing may reach the host's loopback
        script = (
            PROBE.replace("PORT", port).replace("HOST_DIR", repr(str(tmp_path))).replace("SECRET", repr(str(secret)))
        )
        r = subprocess.run(_probe_argv(tmp_path, script), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["connect"] != "connected"
    assert out["interfaces"] == ["lo"]  # --network none: loopback only, the container's own
    for path in ("/opt/kiln/src/verifier/evil.py", "/etc/evil", "/usr/evil", "/evil", f"{tmp_path}/written"):
        assert out[path] != "written", (path, out)
    assert not (tmp_path / "written").exists() and not (PACKAGE_DIR / "evil.py").exists()
    assert out["secret"] == "FileNotFoundError"  # host files are not there at all
    assert out["scratch_cap"] == "OSError"  # ENOSPC on the size-capped tmpfs
    assert out["uid"] == 10001
    assert int(out["cap_eff"], 16) == 0
    assert out["no_new_privs"] == "1"
    assert not _ours()


@pytest.fixture(scope="module")
def docker_prepared(docker_isolation: isolation.Isolation) -> PreparedReference:
    return prepare(
        Reference.from_file(REFERENCE_FILE),
        VerifyOptions(device="cpu", timeout_s=120, sandbox="docker", sandbox_image=IMAGE),
    )


def test_corpus_escapes_are_rejected_in_docker(docker_prepared: PreparedReference, tmp_path: Path) -> None:
    """The escape corpus through --sandbox docker (static screen off so the code runs)."""
    assert docker_prepared.isolation.mechanism == "docker"
    options = VerifyOptions(device="cpu", static_screen=False, timeout_s=120, sandbox="docker", sandbox_image=IMAGE)
    honest, _ = verify_honest_and_socket_escape(docker_prepared, options)
    assert honest.sandbox["mechanism"] == "docker"
    hang = verify(
        docker_prepared,
        corpus_entry("broken_hang").candidate(),
        VerifyOptions(device="cpu", static_screen=False, timeout_s=20, sandbox="docker", sandbox_image=IMAGE),
    )
    assert hang.verdict == "rejected" and any("timed out" in r for r in hang.reasons), hang.reasons
    bomb = verify(
        docker_prepared,
        corpus_entry("broken_memory_bomb").candidate(),
        VerifyOptions(
            device="cpu", static_screen=False, timeout_s=60, memory_limit_mb=2048, sandbox="docker", sandbox_image=IMAGE
        ),
    )
    assert bomb.verdict == "rejected"
    assert any("exceeded the memory limit of 2048 MiB" in r for r in bomb.reasons), bomb.reasons  # cgroup OOM kill
    deadline = time.monotonic() + 20
    while _ours() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ours()


KILLED_PARENT = """
import sys
from pathlib import Path
from verifier import Candidate, Reference, VerifyOptions, verify
verify(
    Reference.from_file(Path(sys.argv[1])),
    Candidate(source=Path(sys.argv[2]).read_text()),
    VerifyOptions(device="cpu", static_screen=False, timeout_s=300, sandbox="docker", sandbox_image=sys.argv[3]),
)
"""


def test_a_killed_parent_leaves_no_container(docker_isolation: isolation.Isolation, tmp_path: Path) -> None:
    hang = tmp_path / "broken_hang.py"
    hang.write_text(corpus_entry("broken_hang").source())
    parent = subprocess.Popen(
        [sys.executable, "-c", KILLED_PARENT, str(REFERENCE_FILE), str(hang), IMAGE],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    label = f"label={docker.LABEL}.parent-pid={parent.pid}"

    def containers() -> list[str]:
        r = subprocess.run(
            ["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", label], capture_output=True, text=True
        )
        return r.stdout.split()

    try:  # wait until only the candidate's container is left: it then hangs in forward, not reading
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert parent.poll() is None, "the parent ended before its candidate hung"
            names = containers()
            if names and all(n.startswith("kiln-candidate-") for n in names):
                break
            time.sleep(0.3)
        assert containers(), "no sandbox container appeared"
        time.sleep(5)
        assert containers(), "the hanging candidate's container ended by itself"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 30
    while containers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not containers(), "a container outlived its killed parent"


def test_sweep_removes_containers_of_dead_parents(docker_isolation: isolation.Isolation) -> None:
    """A leftover labelled with a dead parent's pid (as after a daemon restart or a SIGKILLed reaper)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {
        docker.LABEL: "1",
        f"{docker.LABEL}.host": socket.gethostname(),
        f"{docker.LABEL}.boot": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        f"{docker.LABEL}.parent-pid": str(dead.pid),
    }
    argv = ["docker", "create", "--network", "none"]
    for k, v in labels.items():
        argv += ["--label", f"{k}={v}"]
    cid = subprocess.run([*argv, IMAGE, "true"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        assert cid[:12] in [c[:12] for c in docker.sweep()]
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


def test_memory_limit_kills_inside_the_container(docker_isolation: isolation.Isolation, tmp_path: Path) -> None:
    """--memory from VerifyOptions is the container's cgroup limit (512 MiB here): 1 GiB gets it killed."""
    grow = "chunks = []\nfor _ in range(64):\n    chunks.append(bytearray(16 << 20))\nprint('survived')"
    r = subprocess.run(_probe_argv(tmp_path, grow), capture_output=True, text=True, timeout=120)
    assert "survived" not in r.stdout
    assert r.returncode == 137, (r.returncode, r.stderr[-2000:])


def test_auto_takes_docker_only_when_an_image_is_named(
    docker_isolation: isolation.Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KILN_SANDBOX_IMAGE", raising=False)
    assert isolation.choose("auto").mechanism != "docker"
    chosen = isolation.choose("auto", image=IMAGE)
    assert chosen.mechanism == "docker" and chosen.image == IMAGE
    monkeypatch.setenv("KILN_SANDBOX_IMAGE", IMAGE)
    assert isolation.choose("auto").mechanism == "docker"
    monkeypatch.setenv("KILN_SANDBOX_IMAGE", "kernelkiln/no-such-image:0")
    fallback = isolation.choose("auto")
    assert fallback.mechanism != "docker"
    assert any("docker unavailable" in n and "no-such-image" in n for n in fallback.notes), fallback.notes
    with pytest.raises(SandboxUnavailableError, match="make images"):
        isolation.choose("docker", image="kernelkiln/no-such-image:0")


CORPUS_IN_DOCKER = [e for e in RUNTIME_ENTRIES if e.name != "broken_memory_bomb"]
"""broken_memory_bomb is rejected differently here (the cgroup kills the process: ``process``, not a
MemoryError in ``forward``) and has its own test above."""


@pytest.mark.skipif(
    os.environ.get("KILN_DOCKER_CORPUS") != "1",
    reason="the whole runtime corpus through docker takes ~20 min on 2 cores; set KILN_DOCKER_CORPUS=1",
)
@pytest.mark.parametrize("entry", CORPUS_IN_DOCKER, ids=lambda e: e.name)
def test_runtime_corpus_in_docker(entry: CorpusEntry, docker_prepared: PreparedReference) -> None:
    """Every runtime corpus entry gets the verdict it gets under bwrap (tests/verifier/test_corpus.py)."""
    options = dataclasses.replace(RUNTIME_OPTIONS, sandbox="docker", sandbox_image=IMAGE)
    report = verify(docker_prepared, entry.candidate(), options)
    assert report.sandbox["mechanism"] == "docker"
    assert_verdict(entry, report)


ROUND_THREE_CLASSES = (
    "takeover_planner_forged_plans",
    "host_numpy_aliases_on_fake",
    "kernel_interpreter_dunders",
    "import_scratch_module_kernel",
    "leftover_probe_earlier_candidates",
    "parent_frame_claims_60gib",
    "parent_frame_deep_json",
    "memory_read_outside_tensors",
    "honest_pad_then_kernel",
)
"""One entry per class of round three's issue (protocol takeover, numpy, interpreter dunders, code the
screen never sees, warm leftovers, a parent hurt by frames; the memory check; the F.pad false reject)."""


@pytest.mark.parametrize("name", ROUND_THREE_CLASSES)
def test_round_three_classes_get_their_verdict_in_docker(name: str, docker_prepared: PreparedReference) -> None:
    """Planner, compile worker and runner each in a container of their own: the same verdict, by the same
    check, as under bwrap."""
    options = dataclasses.replace(RUNTIME_OPTIONS, sandbox="docker", sandbox_image=IMAGE)
    report = verify(docker_prepared, corpus_entry(name).candidate(), options)
    assert report.sandbox["mechanism"] == "docker"
    assert_verdict(corpus_entry(name), report)
