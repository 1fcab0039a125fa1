"""The verifying process on a Ray node: one long-lived actor per GPU (or per unit of ``kiln_verify``).

It calls ``verifier.prepare``/``verifier.verify`` exactly as the local executor does, so it runs the
same sandboxed verifier on its node (candidate code never runs in this process), and being
long-lived it keeps whatever the verifier keeps warm between candidates. A job's prepared
reference reaches it through the object store and is deserialised once per job per actor (a few
recent jobs are kept). Imports only the verifier and ray: a GPU node needs ``kernelkiln[ray]``
installed, nothing of the service's state.
"""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from typing import Any

KEEP_PREPARED = 4


class VerifierWorker:
    def __init__(self) -> None:
        import ray

        self.node_id = ray.get_runtime_context().get_node_id()
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self._prepared: OrderedDict[str, Any] = OrderedDict()
        self._identity: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """Where this worker is and what it verifies on (its hardware fingerprint groups comparable
        results: a node with another GPU model gets its own)."""
        if self._identity is None:
            from verifier.engine import resolve_device
            from verifier.hostinfo import describe_host

            device = resolve_device("auto")
            host = describe_host(device)
            self._identity = {
                "node_id": self.node_id,
                "hostname": self.hostname,
                "pid": self.pid,
                "device": device,
                "gpu": host.get("device_name") if device == "cuda" else None,
                "device_name": host.get("device_name"),
                "hardware_fingerprint": host.get("hardware_fingerprint"),
            }
        return dict(self._identity)

    def _placement(self) -> dict[str, Any]:
        me = self.describe()
        return {
            "executor": "ray",
            "node_id": self.node_id,
            "hostname": self.hostname,
            "gpu": me["gpu"],
            "pid": self.pid,
        }

    def prepare(self, reference: Any, options: Any) -> Any:
        from verifier import prepare

        return prepare(reference, options)

    def verify(self, key: str, boxed_prepared: list[Any], candidate: Any, options: Any) -> Any:
        """``boxed_prepared`` is ``[ObjectRef]``: boxed so that Ray does not fetch it for every call."""
        import ray

        from verifier import verify

        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = ray.get(boxed_prepared[0])
            self._prepared[key] = prepared
            while len(self._prepared) > KEEP_PREPARED:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(key)
        report = verify(prepared, candidate, options)
        report.placement = self._placement()
        return report

    def verify_reference(self, reference: Any, candidate: Any, options: Any) -> Any:
        from verifier import verify

        report = verify(reference, candidate, options)
        report.placement = self._placement()
        return report

    def forget(self, key: str) -> None:
        self._prepared.pop(key, None)
