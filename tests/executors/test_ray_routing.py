"""Which workers a job goes to: one hardware class (fingerprint) per job. Workers stand in for a
cluster with two GPU models here (one machine cannot show two); the real placement, object store
and faults are in ``test_ray_executor.py``."""

from __future__ import annotations

import threading

import pytest

from service.executors import ExecutorFailed
from service.executors.ray_executor import RayExecutor, _Worker

H100, A100 = "fp-h100", "fp-a100"


def _executor(**kwargs) -> RayExecutor:
    executor = RayExecutor("127.0.0.1:1", ready_timeout_s=0.5, **kwargs)
    executor._connected = True  # no cluster: the workers below are what it knows
    executor._refresh = lambda force=False: None  # type: ignore[method-assign]
    for key, node, fingerprint in (("a:0", "a", H100), ("b:0", "b", A100), ("b:1", "b", A100)):
        identity = {"hardware_fingerprint": fingerprint, "device": "cuda", "node_id": node}
        executor._workers[key] = _Worker(key, actor=None, node_id=node, identity=identity, alive=True)
    return executor


def test_a_job_stays_on_one_hardware_class() -> None:
    executor = _executor()
    assert executor._choose_hardware() == A100  # the class with the most workers
    assert executor._choose_hardware(H100) == H100  # a reference prepared on an H100 is verified on H100s
    first, second = executor._acquire(A100), executor._acquire(A100)
    assert {first.key, second.key} == {"b:0", "b:1"}  # both A100 workers, never the H100
    taken = []
    waiter = threading.Thread(target=lambda: taken.append(executor._acquire(A100)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not taken  # all A100 workers busy: it waits rather than use the H100
    executor._release(first)
    waiter.join(5)
    assert [w.key for w in taken] == [first.key]
    with pytest.raises(ExecutorFailed):
        executor._choose_hardware("fp-unknown")
    assert executor.device() == "cuda"
    assert executor.parallelism() == 2  # a job's candidates run at most on its class's two workers


def test_a_preferred_fingerprint_wins_when_present() -> None:
    assert _executor(hardware=H100)._choose_hardware() == H100
    assert _executor(hardware=H100).parallelism() == 1
    assert _executor(hardware="fp-absent")._choose_hardware() == A100
