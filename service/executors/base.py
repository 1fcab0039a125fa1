"""Where candidate verifications run: the executor seam, and the ``local`` executor.

An executor prepares a reference and verifies candidates against it; the service keeps everything
else (proposals, LLM calls, ranking, store writes). ``local`` runs the verifier here, as
``verifier.prepare``/``verifier.verify`` always did; ``ray`` (``service/executors/ray_executor.py``)
runs the same sandboxed verifier on the nodes of a Ray cluster. Both stamp each report's
``placement`` with where it ran.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from agents.session import VerifierUnavailable
from verifier.errors import VerifierError

if TYPE_CHECKING:
    from verifier import Candidate, PreparedReference, Reference, Report, VerifyOptions

Progress = Callable[[str], None]
EXECUTOR_NAMES = ("local", "ray")


class ExecutorUnavailable(VerifierUnavailable):
    """The executor cannot verify now (the Ray head is gone, no verifying node is up): a job in hand
    goes back to the queue, and the runner claims no job until ``available()`` says so again."""


class ExecutorFailed(VerifierError):
    """A verification could not be completed after the executor's bounded retries."""


class VerifyExecutor(Protocol):
    name: str

    def prepare(
        self, reference: Reference, options: VerifyOptions, progress: Progress | None = None
    ) -> PreparedReference: ...

    def verify(
        self,
        prepared: PreparedReference,
        candidate: Candidate,
        options: VerifyOptions,
        progress: Progress | None = None,
    ) -> Report: ...

    def verify_reference(self, reference: Reference, candidate: Candidate, options: VerifyOptions) -> Report:
        """One candidate against an unprepared reference (``POST /v1/verify``, ``kiln verify``)."""
        ...

    def parallelism(self) -> int:
        """How many verifications can run at once (a proposer may keep that many in flight)."""
        ...

    def available(self) -> bool:
        """Ready to verify now (reconnecting first if it had lost its cluster)."""
        ...

    def unavailable_reason(self) -> str | None:
        """None when ready to verify now (as ``available``), else why not, in words a user can act on
        (shown to the jobs that wait: their ``waiting`` event and ``GET /v1/jobs/{id}``)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def local_placement(prepared: PreparedReference | None) -> dict[str, Any]:
    gpu = None
    if prepared is not None and prepared.device == "cuda":
        gpu = prepared.environment.get("device_name")
    return {"executor": "local", "node_id": None, "hostname": socket.gethostname(), "gpu": gpu, "attempt": 1}


class LocalExecutor:
    """The verifier in this process's sandbox processes (the default)."""

    name = "local"

    def __init__(self, parallelism: int = 1) -> None:
        self._parallelism = max(1, parallelism)

    def prepare(
        self, reference: Reference, options: VerifyOptions, progress: Progress | None = None
    ) -> PreparedReference:
        from verifier import prepare

        return prepare(reference, options, progress)

    def verify(
        self,
        prepared: PreparedReference,
        candidate: Candidate,
        options: VerifyOptions,
        progress: Progress | None = None,
    ) -> Report:
        from verifier import verify

        report = verify(prepared, candidate, options, progress)
        report.placement = local_placement(prepared)
        return report

    def verify_reference(self, reference: Reference, candidate: Candidate, options: VerifyOptions) -> Report:
        from verifier import verify

        report = verify(reference, candidate, options)
        report.placement = local_placement(None)
        if report.environment.get("device_kind") == "cuda":
            report.placement["gpu"] = report.environment.get("device_name")
        return report

    def parallelism(self) -> int:
        return self._parallelism

    def available(self) -> bool:
        return True

    def unavailable_reason(self) -> str | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "hostname": socket.gethostname()}

    def close(self) -> None:
        pass


def placements_summary(reports: list[Report]) -> dict[str, Any]:
    """Where a job's candidates were verified: the executor and each distinct node (for job results)."""
    nodes: dict[tuple[Any, Any], dict[str, Any]] = {}
    executor = None
    retried = 0
    for report in reports:
        placement = report.placement or {}
        executor = executor or placement.get("executor")
        key = (placement.get("node_id"), placement.get("hostname"))
        entry = nodes.setdefault(
            key,
            {
                "node_id": placement.get("node_id"),
                "hostname": placement.get("hostname"),
                "gpu": placement.get("gpu"),
                "hardware_fingerprint": report.environment.get("hardware_fingerprint"),
                "candidates": 0,
            },
        )
        entry["candidates"] += 1
        retried += int(placement.get("attempt") or 1) > 1
    return {"executor": executor, "nodes": list(nodes.values()), "retried": retried}
