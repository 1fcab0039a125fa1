"""A Ray cluster on this machine, bound to 127.0.0.1: for the tests, the throughput benchmark and
trying the ray executor without a cluster (``ray.cluster_utils.Cluster``: real GCS, raylet and
worker processes, one raylet per simulated node, all tracked by this object and ended by it).

Every node listens on 127.0.0.1 only (see ``loopback_environment``), the dashboard is off, usage
statistics are off and each node's object store is small.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from service.executors.ray_env import RESOURCE, ensure_auth_token, loopback_environment

OBJECT_STORE_BYTES = 80 * 1024 * 1024

# Ray reads these when it is imported: import this module before anything imports ray
os.environ.update(loopback_environment())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackCluster:
    """``nodes``: one dict of custom resources per node, the head first (default: one node with one
    ``kiln_verify`` slot). ``num_gpus`` per node can be declared too (Ray only counts it)."""

    def __init__(
        self,
        nodes: list[dict[str, float]] | None = None,
        *,
        num_cpus: int = 1,
        port: int | None = None,
        gpus: list[int] | None = None,
    ) -> None:
        self.node_resources = nodes or [{RESOURCE: 1}]
        self.node_gpus = gpus or [0] * len(self.node_resources)
        self.num_cpus = num_cpus
        self.port = port or free_port()
        self.cluster: Any = None
        self.extra: list[Any] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _node_args(self, index: int) -> dict[str, Any]:
        return {
            "num_cpus": self.num_cpus,
            "num_gpus": self.node_gpus[index],
            "resources": dict(self.node_resources[index]),
            "object_store_memory": OBJECT_STORE_BYTES,
            "node_ip_address": "127.0.0.1",
        }

    def start(self) -> LoopbackCluster:
        os.environ.update(loopback_environment())
        ensure_auth_token()
        from ray.cluster_utils import Cluster

        head = self._node_args(0) | {"include_dashboard": False, "gcs_server_port": self.port}
        self.cluster = Cluster(initialize_head=True, connect=False, head_node_args=head)
        self.extra = [self.cluster.add_node(**self._node_args(i)) for i in range(1, len(self.node_resources))]
        return self

    def kill_head(self) -> None:
        """End the head's processes at once (GCS, raylet and its workers), as a crashed head would."""
        self.cluster.head_node.kill_all_processes(check_alive=False, allow_graceful=False)

    def restart_head(self) -> None:
        """A new head on the same address (a single-node cluster: the head is the verifying node)."""
        try:
            self.shutdown()
        except Exception:  # what is left of the killed head
            self.cluster = None
        self.start()

    def shutdown(self) -> None:
        if self.cluster is not None:
            try:
                self.cluster.shutdown()
            finally:
                self.cluster = None
                self.extra = []

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
