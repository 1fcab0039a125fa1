"""A job that waits on the ray executor says why, where the user looks: a ``waiting`` event that
``kiln submit --wait`` prints, and ``waiting`` in ``GET /v1/jobs/{id}``; the two reasons: nothing answers
at the head's address, and a cluster (started with the project's ``scripts/ray_local_cluster.py``) whose
nodes offer neither a GPU nor ``kiln_verify``."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.executors.local_cluster import free_port
from tests.executors.conftest import require_ray
from tests.executors.trivial import REFERENCE
from tests.service.conftest import make_server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.serial]
ROOT = Path(__file__).resolve().parents[2]


def _lines(stream) -> queue.Queue[str | None]:
    """The lines of a subprocess's pipe as they come (None at its end), read on a thread of their own."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_line(lines: queue.Queue[str | None], timeout_s: float) -> str | None:
    """The next line, None at the end, '' when none came within ``timeout_s``."""
    try:
        return lines.get(timeout=max(0.01, timeout_s))
    except queue.Empty:
        return ""


@pytest.fixture
def cluster_without_verifiers() -> Iterator[str]:
    """``scripts/ray_local_cluster.py --slots 0``: a real loopback cluster whose one node offers nothing
    to verify on (as a plain ``ray start --head``); its address."""
    require_ray()
    port = free_port()
    script = str(ROOT / "scripts" / "ray_local_cluster.py")
    process = subprocess.Popen(
        [sys.executable, script, "--nodes", "1", "--slots", "0", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        address = (_next_line(_lines(process.stdout), 180) or "").strip()
        assert address == f"127.0.0.1:{port}", f"the cluster did not start: {address!r}"
        yield address
    finally:
        process.terminate()  # SIGTERM: the script ends the cluster's processes
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _waiting(client, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("waiting"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} never said why it waits: {job}")


def _submit_wait_prints(url: str, reference: Path, expected: str, timeout_s: float = 120) -> str:
    """Run ``kiln submit REF --wait`` and read its stderr until it prints the waiting reason; that line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "submit",
            str(reference),
            "--wait",
            "--server",
            url,
            "--budget",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []
    lines = _lines(process.stderr)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = _next_line(lines, deadline - time.monotonic())
            if line is None:
                break
            seen.append(line)
            if "waiting" in line and expected in line:
                return line.strip()
    finally:
        process.terminate()
        process.wait(timeout=30)
    raise AssertionError(f"kiln submit --wait did not print why the job waits ({expected!r}): {seen}")


def _check_waiting_job(server, tmp_path: Path, expected: str) -> None:
    with server.client() as client:
        created = client.post("/v1/jobs", json={"reference_source": REFERENCE, "proposer": "template", "budget": 1})
        assert created.status_code == 202, created.text
        job = _waiting(client, created.json()["id"])
        assert job["status"] == "queued" and expected in job["waiting"], job
    reference = tmp_path / "reference.py"
    reference.write_text(REFERENCE)
    line = _submit_wait_prints(server.url, reference, expected)
    assert line.startswith("waiting:"), line


def test_a_job_says_it_cannot_reach_the_cluster(make_server, tmp_path: Path) -> None:  # noqa: F811
    require_ray()
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    server = make_server(workers=1, device="cpu", executor="ray", ray_address=address)
    expected = f"cannot reach the Ray cluster: nothing answers at the Ray head address {address}"
    _check_waiting_job(server, tmp_path, expected)


def test_a_job_says_no_node_offers_kiln_verify_or_a_gpu(
    cluster_without_verifiers: str,
    make_server,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = make_server(workers=1, device="cpu", executor="ray", ray_address=cluster_without_verifiers)
    _check_waiting_job(server, tmp_path, "offers a GPU or the kiln_verify resource")
