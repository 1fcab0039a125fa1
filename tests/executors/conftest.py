"""Ray clusters for the executor tests: real Ray processes on this machine, bound to 127.0.0.1.

Without Ray installed the tests skip, unless ``KILN_REQUIRE_RAY=1`` (set by ``.ci/run``), where they
fail: CI installs the ``ray`` extra (``make setup``) and must not pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from service.executors.ray_executor import loopback_environment

os.environ.update(loopback_environment())  # before anything imports ray (it reads them then)


def require_ray() -> None:
    if importlib.util.find_spec("ray") is not None:
        return
    why = "Ray is not installed (pip install 'kernelkiln[ray]')"
    if os.environ.get("KILN_REQUIRE_RAY") == "1":
        pytest.fail(f"KILN_REQUIRE_RAY=1 but {why}")
    pytest.skip(why)


@pytest.fixture
def loopback_cluster() -> Iterator:
    """Factory: ``loopback_cluster(nodes=[{...}, ...], gpus=[...])`` starts a cluster, shut down at teardown."""
    require_ray()
    from service.executors.local_cluster import LoopbackCluster

    started: list[LoopbackCluster] = []

    def make(nodes=None, gpus=None) -> LoopbackCluster:
        cluster = LoopbackCluster(nodes, gpus=gpus).start()
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.shutdown()
