"""The ``ray`` executor: candidate verifications on the nodes of a Ray cluster.

Each verifying node runs long-lived ``VerifierWorker`` actors (``ray_worker.py``): one per GPU on a
GPU node (``num_gpus=1``), one per unit of the ``kiln_verify`` custom resource on a CPU node, each
pinned to its node. The service stays the driver: it proposes, ranks and stores; the actors run
the sandboxed verifier.

- **One hardware class per job.** ``prepare`` runs the reference on a worker of the class with the
  most workers (a class is a hardware fingerprint: GPU model, or CPU model), and every candidate of
  that job is verified on workers of the same class, so timings and speedups within a job compare
  like with like and each report carries the fingerprint of the hardware it ran on. A node with
  another GPU model is another class, with its own fingerprint.
- **The prepared reference travels once.** It is ``ray.put`` once per job; calls pass the reference
  to it (boxed, so Ray does not resolve it per call); a node fetches it once into its object store
  and each actor deserialises it once per job.
- **Parallel.** Calls go to idle workers of the class; several threads (a round's LLM samples,
  several jobs) keep as many workers busy as there are.
- **Faults.** A worker that dies mid-verification (its process killed, its node lost) is restarted
  by Ray (``max_restarts``) and the verification is retried, at most ``max_attempts`` times in all;
  nothing is recorded until a report comes back, so no verdict is lost or written twice. When the
  head (GCS) is gone, the call raises ``ExecutorUnavailable``: the runner hands the job back to the
  queue and claims again once ``available()`` has reconnected.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from service.executors.base import ExecutorFailed, ExecutorUnavailable, Progress
from service.executors.ray_env import RESOURCE, auth_token_configured, ensure_auth_token, loopback_environment

log = logging.getLogger("kiln.executors.ray")

NAMESPACE = "kernelkiln"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _host_port(address: str) -> tuple[str, int] | None:
    address = address.removeprefix("ray://")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


@dataclass
class _Worker:
    key: str
    actor: Any
    node_id: str
    ready: Any = None
    """The pending ``describe`` call until the worker has answered."""
    identity: dict[str, Any] = field(default_factory=dict)
    busy: bool = False
    alive: bool = False
    """Answered since it last died (Ray restarts a dead worker: it is used again once it answers)."""

    @property
    def hardware(self) -> str | None:
        return self.identity.get("hardware_fingerprint")


@dataclass
class _PreparedEntry:
    key: str
    ref: Any
    hardware: str
    generation: int


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        max_attempts: int = 3,
        refresh_s: float = 10.0,
        ready_timeout_s: float = 120.0,
        hardware: str | None = None,
    ) -> None:
        """``hardware``: the fingerprint jobs go to when the cluster has workers of it (else the class
        with the most workers)."""
        self.address = address or os.environ.get("KILN_RAY_ADDRESS") or "auto"
        self.preferred_hardware = hardware
        self.max_attempts = max(1, max_attempts)
        self.refresh_s = refresh_s
        self.ready_timeout_s = ready_timeout_s
        self._cond = threading.Condition(threading.RLock())
        self._workers: dict[str, _Worker] = {}
        self._prepared: dict[int, _PreparedEntry] = {}
        self._connected = False
        self._generation = 0
        self._refreshed_at = 0.0
        self._gcs: tuple[str, int] | None = _host_port(self.address)

    # ---- connection ----------------------------------------------------------------------------
    def connect(self) -> None:
        """Join the cluster as a driver and start the verifying workers. Raises ExecutorUnavailable."""
        with self._cond:
            if self._connected:
                return
            target = _host_port(self.address)
            if target is not None and not self._head_alive():
                raise ExecutorUnavailable(f"nothing answers at the Ray head address {self.address}")
            if target is not None and target[0] in LOOPBACK:
                os.environ.update(loopback_environment())
            # clusters started with `ray start` use token authentication (~/.ray/auth_token); a driver
            # must say so before ray is imported (RAY_AUTH_MODE=disabled for a cluster without it)
            os.environ.setdefault("RAY_AUTH_MODE", "token")
            if os.environ["RAY_AUTH_MODE"] == "token" and not auth_token_configured():
                if target is not None and target[0] in LOOPBACK:
                    ensure_auth_token()
                else:  # without one Ray aborts this whole process rather than raising
                    raise ExecutorUnavailable(
                        "no Ray authentication token here: copy the head's ~/.ray/auth_token to this host "
                        "(or set RAY_AUTH_TOKEN), or set RAY_AUTH_MODE=disabled for a cluster without tokens"
                    )
            import ray

            kwargs: dict[str, Any] = {
                "address": self.address,
                "namespace": NAMESPACE,
                "logging_level": logging.WARNING,
                "log_to_driver": False,
            }
            if target is not None and target[0] in LOOPBACK:
                kwargs["_node_ip_address"] = "127.0.0.1"
            try:
                if not ray.is_initialized():
                    ray.init(**kwargs)
            except Exception as e:
                raise ExecutorUnavailable(f"cannot reach the Ray cluster at {self.address}: {e}") from None
            try:
                gcs = ray.get_runtime_context().gcs_address
                self._gcs = _host_port(gcs) or self._gcs
            except Exception:
                pass
            self._connected = True
            self._generation += 1
            self._refreshed_at = 0.0
        self._refresh(force=True)

    def _disconnect(self, why: str, quiet: bool = False) -> None:
        import ray

        with self._cond:
            if not self._connected:
                return
            if not quiet:
                log.warning("ray executor: lost the cluster (%s); jobs go back to the queue", why)
            self._connected = False
            self._workers.clear()
            self._prepared.clear()
            self._generation += 1
            self._cond.notify_all()
        try:
            ray.shutdown()
        except Exception:
            log.exception("ray.shutdown failed")

    def _head_alive(self, timeout_s: float = 3.0) -> bool:
        if self._gcs is None:
            return True
        try:
            with socket.create_connection(self._gcs, timeout=timeout_s):
                return True
        except OSError:
            return False

    def available(self) -> bool:
        """Connected (reconnecting when the head is back) with at least one ready worker."""
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """None when connected (reconnecting when the head is back) with at least one ready worker;
        else why not: the head does not answer, or no node offers a GPU or ``kiln_verify``, or the
        workers are still starting."""
        if not self._connected:
            if not self._head_alive():
                return f"cannot reach the Ray cluster: nothing answers at the Ray head address {self.address}"
            try:
                self.connect()
            except ExecutorUnavailable as e:
                log.warning("%s", e)
                return str(e)
        elif not self._head_alive():
            self._disconnect("the head does not answer")
            return f"cannot reach the Ray cluster: the Ray head at {self.address} does not answer"
        try:
            self._refresh()
        except ExecutorUnavailable as e:
            return str(e)
        with self._cond:
            if any(w.alive for w in self._workers.values()):
                return None
            if self._workers:
                return f"{len(self._workers)} verifying worker(s) of the Ray cluster at {self.address} are starting"
        return (
            f"no node of the Ray cluster at {self.address} offers a GPU or the {RESOURCE} resource, so nothing "
            f"can verify: start verifying nodes with `ray start --address {self.address} --num-gpus N` "
            f"or `--resources '{{\"{RESOURCE}\": N}}'`"
        )

    def close(self) -> None:
        self._disconnect("closed", quiet=True)

    # ---- workers --------------------------------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        """Start a worker for every verifying slot of every live node, and learn what each runs on."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from service.executors.ray_worker import VerifierWorker

        with self._cond:
            if not self._connected:
                raise ExecutorUnavailable(f"not connected to the Ray cluster at {self.address}")
            now = time.monotonic()
            if not force and now - self._refreshed_at < self.refresh_s:
                self._poll_ready()
                return
            self._refreshed_at = now
            if not self._head_alive():  # before asking it anything: a call to a dead head waits for a minute
                self._disconnect("the head does not answer")
                raise ExecutorUnavailable(f"the Ray head at {self.address} does not answer")
            try:
                nodes = [n for n in ray.nodes() if n.get("Alive")]
            except Exception as e:
                self._disconnect(str(e))
                raise ExecutorUnavailable(f"the Ray cluster at {self.address} does not answer: {e}") from None
            alive = {n["NodeID"] for n in nodes}
            for key in [k for k, w in self._workers.items() if w.node_id not in alive]:
                del self._workers[key]
            remote = ray.remote(VerifierWorker)
            for node in nodes:
                resources = node.get("Resources") or {}
                gpus = int(resources.get("GPU", 0))
                slots = gpus or int(resources.get(RESOURCE, 0))
                for slot in range(slots):
                    key = f"{node['NodeID']}:{slot}"
                    if key in self._workers:
                        continue
                    options: dict[str, Any] = {
                        "num_cpus": 0,
                        "max_restarts": self.max_attempts,
                        "max_task_retries": 0,
                        "max_concurrency": 1,
                        "scheduling_strategy": NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                    }
                    if gpus:
                        options["num_gpus"] = 1
                    else:
                        options["resources"] = {RESOURCE: 1}
                    actor = remote.options(**options).remote()
                    self._workers[key] = _Worker(key, actor, node["NodeID"], ready=actor.describe.remote())
            self._poll_ready()
            self._cond.notify_all()

    def _poll_ready(self, timeout_s: float = 0.0) -> None:
        import ray
        from ray.exceptions import ActorUnavailableError

        pending = {w.ready: w for w in self._workers.values() if w.ready is not None}
        if not pending:
            return
        done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout_s)
        for ref in done:
            worker = pending[ref]
            worker.ready = None
            try:
                worker.identity = ray.get(ref)
                worker.alive = True
            except ActorUnavailableError:  # being restarted: ask again
                worker.ready = worker.actor.describe.remote()
            except Exception as e:  # gone for good (restarts used up, node lost): the next refresh starts another
                log.warning("ray executor: worker %s is gone: %s", worker.key, type(e).__name__)
                self._workers.pop(worker.key, None)
                self._refreshed_at = 0.0
        if done:
            self._cond.notify_all()

    def workers(self) -> list[dict[str, Any]]:
        """Every ready worker: node, hostname, pid, device, GPU, fingerprint, and whether it is busy."""
        with self._cond:
            return [
                dict(w.identity, busy=w.busy, alive=w.alive, key=w.key) for w in self._workers.values() if w.identity
            ]

    def parallelism(self) -> int:
        """Workers of the class a new job goes to (a job's candidates all run on one class)."""
        with self._cond:
            classes = self._classes()
            if not classes:
                return max(1, len(self._workers))
            chosen = self.preferred_hardware if self.preferred_hardware in classes else None
            return classes[chosen or max(sorted(classes), key=lambda c: classes[c])]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "connected": self._connected, "workers": self.workers()}

    def _classes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for w in self._workers.values():
            if w.hardware:
                counts[w.hardware] = counts.get(w.hardware, 0) + 1
        return counts

    def _choose_hardware(self, wanted: str | None = None) -> str:
        deadline = time.monotonic() + self.ready_timeout_s
        with self._cond:
            while True:
                self._ensure()
                classes = self._classes()
                if wanted is not None and wanted in classes:
                    return wanted
                if wanted is None and self.preferred_hardware in classes:
                    return str(self.preferred_hardware)
                if wanted is None and classes:
                    return max(sorted(classes), key=lambda c: classes[c])
                if time.monotonic() >= deadline:
                    if wanted is not None and classes:
                        raise ExecutorFailed(f"no worker in the Ray cluster runs on hardware {wanted}")
                    raise ExecutorUnavailable(
                        f"no verifying worker is up in the Ray cluster at {self.address}: start nodes with "
                        f"`ray start --num-gpus N` or `--resources '{{\"{RESOURCE}\": N}}'`"
                    )
                self._cond.wait(0.5)
                self._refresh()

    def device(self) -> str:
        """The device jobs will verify on (``cuda`` when the chosen hardware class is GPUs): a job's
        shapes are picked for it, not for the host the service runs on."""
        hardware = self._choose_hardware()
        with self._cond:
            for w in self._workers.values():
                if w.hardware == hardware:
                    return str(w.identity.get("device") or "cpu")
        return "cpu"

    def hardware(self) -> dict[str, Any]:
        """What a job would verify on now: a worker of the chosen class's identity (device, device
        name, hardware fingerprint, node)."""
        hardware = self._choose_hardware()
        with self._cond:
            for w in self._workers.values():
                if w.hardware == hardware and w.identity:
                    return dict(w.identity)
        raise ExecutorUnavailable(f"no verifying worker is up in the Ray cluster at {self.address}")

    def _ensure(self) -> None:
        if not self._connected:
            self.connect()

    def _acquire(self, hardware: str) -> _Worker:
        """An idle worker of ``hardware``, waiting while all are busy or restarting (a worker gone for
        good is replaced at the next refresh)."""
        with self._cond:
            generation = self._generation
            deadline = time.monotonic() + self.ready_timeout_s
            while True:
                if generation != self._generation or not self._connected:
                    raise ExecutorUnavailable(f"lost the Ray cluster at {self.address}")
                for w in self._workers.values():
                    if not w.busy and w.alive and w.hardware == hardware:
                        w.busy = True
                        return w
                if any(w.hardware == hardware or not w.identity for w in self._workers.values()):
                    deadline = time.monotonic() + self.ready_timeout_s
                elif time.monotonic() > deadline:
                    raise ExecutorFailed(f"no worker left in the Ray cluster for hardware {hardware}")
                else:
                    self._refreshed_at = 0.0  # start a replacement now
                self._cond.wait(0.5)
                self._refresh()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            worker.busy = False
            self._cond.notify_all()

    def _call(self, hardware: str, method: str, *args: Any) -> tuple[Any, int]:
        """``method`` on an idle worker of ``hardware``, retried on another or the restarted worker when
        the worker dies; returns (result, attempt)."""
        import ray
        from ray.exceptions import ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError

        last: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            generation = self._generation
            worker = self._acquire(hardware)
            try:
                return ray.get(getattr(worker.actor, method).remote(*args)), attempt
            except RayTaskError:
                raise  # the verifier's own error (an unusable reference): it is also that exception's type
            except (RayActorError, WorkerCrashedError, ObjectLostError) as e:
                last = e
                if generation != self._generation or not self._head_alive():
                    self._disconnect(f"{type(e).__name__} and the head does not answer")
                    raise ExecutorUnavailable(f"lost the Ray cluster at {self.address} during a verification") from e
                with self._cond:  # not used again until its restarted self answers
                    worker.alive = False
                    if worker.key in self._workers and worker.ready is None:
                        worker.ready = worker.actor.describe.remote()
                log.warning(
                    "ray executor: worker %s (node %s) died during %s (attempt %d of %d): %s",
                    worker.key,
                    worker.node_id[:12],
                    method,
                    attempt,
                    self.max_attempts,
                    type(e).__name__,
                )
            except Exception as e:
                if generation != self._generation or not self._head_alive():
                    self._disconnect(f"{type(e).__name__} and the head does not answer")
                    raise ExecutorUnavailable(f"lost the Ray cluster at {self.address} during a verification") from e
                raise
            finally:
                self._release(worker)
        raise ExecutorFailed(f"{method} failed on {self.max_attempts} Ray workers in turn; last: {last}")

    # ---- the executor interface -------------------------------------------------------------------
    def prepare(self, reference: Any, options: Any, progress: Progress | None = None) -> Any:
        """Run the reference on a worker of the chosen hardware; the result is put in the object store
        once, for every verification of this job."""
        import ray

        self._ensure()
        hardware = self._choose_hardware()
        if progress:
            progress(f"reference: prepared on a Ray worker (hardware {hardware})")
        prepared, _ = self._call(hardware, "prepare", reference, options)
        with self._cond:
            entry = _PreparedEntry(uuid.uuid4().hex, ray.put(prepared), hardware, self._generation)
            self._prepared[id(prepared)] = entry
        weakref.finalize(prepared, self._prepared.pop, id(prepared), None)
        return prepared

    def _entry(self, prepared: Any) -> _PreparedEntry:
        import ray

        with self._cond:
            entry = self._prepared.get(id(prepared))
            if entry is not None and entry.generation == self._generation:
                return entry
        # prepared elsewhere (or before a reconnect): verify on the hardware it was prepared on
        wanted = (prepared.environment or {}).get("hardware_fingerprint")
        hardware = self._choose_hardware(wanted)
        with self._cond:
            entry = _PreparedEntry(uuid.uuid4().hex, ray.put(prepared), hardware, self._generation)
            self._prepared[id(prepared)] = entry
        weakref.finalize(prepared, self._prepared.pop, id(prepared), None)
        return entry

    def verify(self, prepared: Any, candidate: Any, options: Any, progress: Progress | None = None) -> Any:
        self._ensure()
        entry = self._entry(prepared)
        report, attempt = self._call(entry.hardware, "verify", entry.key, [entry.ref], candidate, options)
        report.placement["attempt"] = attempt
        return report

    def verify_reference(self, reference: Any, candidate: Any, options: Any) -> Any:
        self._ensure()
        report, attempt = self._call(self._choose_hardware(), "verify_reference", reference, candidate, options)
        report.placement["attempt"] = attempt
        return report
