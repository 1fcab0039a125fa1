"""The ray executor against real local Ray clusters (two simulated nodes; a worker killed mid-verification).

Every node is a real raylet on 127.0.0.1 started by ``LoopbackCluster``; the verifier runs in its
sandbox processes on the node's worker, exactly as ``verifier.verify`` does locally.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.executors.trivial import REFERENCE, SLOW, WRONG, variant
from verifier import Candidate, Reference, VerifyOptions

pytestmark = [pytest.mark.slow, pytest.mark.serial]

OPTIONS = VerifyOptions(device="cpu")


def test_two_nodes_share_a_job_with_one_prepared_reference(loopback_cluster, monkeypatch) -> None:
    import ray

    from service.executors.ray_executor import RESOURCE, RayExecutor

    # a CPU node offering kiln_verify, and a node declaring a GPU (Ray only counts it; no CUDA here)
    cluster = loopback_cluster(nodes=[{RESOURCE: 1}, {}], gpus=[0, 1])
    executor = RayExecutor(cluster.address)
    puts: list[object] = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    try:
        executor.connect()
        deadline = time.monotonic() + 120
        while len(executor.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            executor.available()
        workers = executor.workers()
        assert len(workers) == 2, workers  # one per kiln_verify unit, one per GPU
        assert len({w["node_id"] for w in workers}) == 2

        prepared = executor.prepare(Reference(source=REFERENCE), OPTIONS)
        sources = [variant(k) for k in range(3)] + [WRONG]
        reports: dict[str, object] = {}

        def run(source: str) -> None:
            reports[source] = executor.verify(prepared, Candidate(source=source), OPTIONS)

        threads = [threading.Thread(target=run, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert len(reports) == len(sources)
        verdicts = [reports[s].verdict for s in sources]  # type: ignore[attr-defined]
        assert verdicts == ["accepted", "accepted", "accepted", "rejected"], verdicts
        placements = [reports[s].placement for s in sources]  # type: ignore[attr-defined]
        assert {p["executor"] for p in placements} == {"ray"}
        assert {p["node_id"] for p in placements} == {w["node_id"] for w in workers}  # both nodes verified
        assert all(p["hostname"] and p["attempt"] == 1 for p in placements)
        fingerprint = prepared.environment["hardware_fingerprint"]
        assert all(reports[s].environment["hardware_fingerprint"] == fingerprint for s in sources)  # type: ignore[attr-defined]
        # the prepared reference went into the object store once for the whole job
        assert sum(1 for value in puts if value is prepared) == 1
    finally:
        executor.close()


def test_a_worker_killed_mid_verification_is_retried(loopback_cluster) -> None:
    from service.executors.ray_executor import RayExecutor

    cluster = loopback_cluster()
    executor = RayExecutor(cluster.address)
    try:
        executor.connect()
        prepared = executor.prepare(Reference(source=REFERENCE), OPTIONS)
        first = executor.verify(prepared, Candidate(source=variant(0)), OPTIONS)
        assert first.verdict == "accepted" and first.placement["attempt"] == 1
        pid = first.placement["pid"]

        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["report"] = executor.verify(prepared, Candidate(source=SLOW), OPTIONS)
            except BaseException as e:  # surfaced below
                outcome["error"] = e

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        while not any(w["busy"] for w in executor.workers()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # inside verify(): the slow candidate's calls take seconds in its sandbox process
        assert thread.is_alive(), "the verification ended before the worker could be killed"
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=300)
        assert "error" not in outcome, outcome.get("error")
        report = outcome["report"]
        assert report.verdict == "accepted", report.reasons  # type: ignore[attr-defined]
        assert report.placement["attempt"] == 2  # type: ignore[attr-defined]
        assert report.placement["pid"] != pid  # type: ignore[attr-defined]  # Ray restarted the worker
    finally:
        executor.close()
