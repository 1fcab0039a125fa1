"""The embedded job runner: worker threads that claim generation jobs from the store and run them.

Each job holds a lease renewed by a heartbeat thread; a cancel request reaches the generator
through the heartbeat. Every verified candidate is written to the store as soon as it is verified,
so a crash loses no verdict: a job whose worker died is claimed again when its lease expires, and a
job interrupted by a clean shutdown goes straight back to the queue. Candidate code never runs in
this process: the generator verifies every candidate through the executor (``service/executors``):
sandbox processes on this host (``local``) or on the nodes of a Ray cluster (``ray``). When the
executor is unavailable (the Ray head went away) a running job is handed back to the queue, no job
is claimed until it is back, and a resumed job re-uses the verdicts it had already stored. While the
executor cannot verify, every queued job is told why, once per reason, with a ``waiting`` event
(``kiln submit --wait`` prints it; ``GET /v1/jobs/{id}`` shows the reason as ``waiting``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernels_store import JobRecord, LeaseLostError, Store
from service.events import EventHub
from service.executors import ExecutorUnavailable, VerifyExecutor, make_executor, placements_summary
from service.jobs import JobParams
from service.persistence import record_result, resolve_task
from service.public_text import public_message
from service.settings import Settings
from tasks import UnknownTaskError

if TYPE_CHECKING:
    from agents import CandidateResult, GenerationResult

Generator = Callable[..., "GenerationResult"]
"""``agents.generate``'s signature: (request, *, on_event, on_candidate, cancel, prepare_fn, verify_fn, parallelism)."""

log = logging.getLogger("kiln.runner")
IDLE_POLL_S = 2.0
MAX_TOLD = 500
"""Queued jobs told about one waiting reason (the oldest first), per check."""
KINDS = ("generate", "compile")
"""The jobs a runner claims: generation jobs (``POST /v1/jobs``) and compilations (``POST /v1/compilations``)."""


class JobRunner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        hub: EventHub,
        executor: VerifyExecutor | None = None,
        generator: Generator | None = None,
    ) -> None:
        """``generator`` replaces ``agents.generate`` (tests drive the lease, requeue and recording logic
        with a stub that submits prepared verdicts)."""
        self.store = store
        self.settings = settings
        self.hub = hub
        self.executor = executor or make_executor(settings.executor, ray_address=settings.ray_address)
        self._generator = generator
        self.waiting: str | None = None
        """Why this runner claims no job now (its executor cannot verify), or None."""
        self._told: set[str] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.worker_prefix = f"{socket.gethostname()}:{os.getpid()}"

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for n in range(self.settings.workers):
            t = threading.Thread(
                target=self._loop, args=(f"{self.worker_prefix}:{n}",), name=f"kiln-worker-{n}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        """A job was queued: wake an idle worker now rather than at its next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop claiming, interrupt running jobs and hand them back to the queue."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for cancel in self._active.values():
                cancel.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        self.executor.close()

    @property
    def workers(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    # ---- work ------------------------------------------------------------------------------
    def _executor_ready(self) -> bool:
        try:
            reason = self.executor.unavailable_reason()
        except Exception as e:
            log.exception("checking the %s executor failed", self.executor.name)
            reason = f"checking the {self.executor.name} executor failed: {type(e).__name__}: {e}"
        with self._lock:
            changed = reason != self.waiting
            self.waiting = reason
            if changed:
                self._told.clear()
        if reason is None:
            return True
        if changed:
            log.warning("the %s executor cannot verify: %s; no job is claimed until it can", self.executor.name, reason)
        self._tell_queued(reason)
        return False

    def _tell_queued(self, reason: str) -> None:
        """A ``waiting`` event with ``reason`` to every queued job not yet told it."""
        try:
            queued = self.store.list_jobs(status="queued", limit=MAX_TOLD).items
        except Exception:
            log.exception("listing the queued jobs failed")
            return
        for job in reversed(queued):
            with self._lock:
                if job.id in self._told or self.waiting != reason:
                    continue
                self._told.add(job.id)
            self.hub.publish(job.id, "waiting", {"reason": reason, "executor": self.executor.name})

    def _loop(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            if not self._executor_ready():
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            try:
                job = self.store.claim_next_job(worker_id, lease_s=self.settings.lease_seconds, kinds=KINDS)
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            self._run(job, worker_id)

    def _run(self, job: JobRecord, worker_id: str) -> None:
        cancel = threading.Event()
        lost = threading.Event()
        done = threading.Event()
        with self._lock:
            self._active[job.id] = cancel
        beat = threading.Thread(target=self._heartbeat, args=(job.id, worker_id, cancel, lost, done), daemon=True)
        beat.start()
        publish = self._publisher(job.id)
        publish("started", {"job_id": job.id, "task_id": job.task_id, "attempt": job.attempts})
        outcome: tuple[str, str | None, dict[str, Any] | None]
        try:
            if job.kind == "compile":
                outcome = self._compile(job, worker_id, cancel, publish)
            else:
                outcome = self._generate(job, worker_id, cancel, publish)
        except UnknownTaskError as e:
            outcome = ("failed", f"unknown task {e.task_id}", None)
        except LeaseLostError:
            outcome = ("lost", None, None)
        except ExecutorUnavailable as e:
            outcome = ("requeue", str(e), None)
        except Exception as e:
            log.exception("job %s failed", job.id)  # the log has the traceback; the job's error, the message
            outcome = ("failed", public_message(f"{type(e).__name__}: {e}"), None)
        finally:
            with self._lock:
                self._active.pop(job.id, None)
            done.set()
            beat.join(timeout=5)
        status, error, result = outcome
        if lost.is_set() or status == "lost":
            log.warning("job %s: lease lost to another worker; stopped", job.id)
            return
        try:
            if status == "requeue":  # the executor went away: the job waits in the queue until it is back
                log.warning("job %s: back to the queue (%s)", job.id, error)
                self.store.release_job(job.id, worker_id)
                publish("requeued", {"reason": f"executor unavailable: {error}"})
                return
            if self._stopping.is_set() and status == "cancelled":
                self.store.release_job(job.id, worker_id)
                publish("requeued", {"reason": "service shutting down"})
                return
            self.store.finish_job(job.id, worker_id, status, error=error, result=result)
        except LeaseLostError:
            return
        if job.kind == "compile":  # the event says how it ended; the report (sources and all) is the job's result
            from service.compilations import forget

            forget(job.id)
            result = {k: (result or {}).get(k) for k in ("status", "coverage", "run_id")} if result else None
        publish("finished", {"status": status, "error": error, "result": result})

    def _publisher(self, job_id: str):  # type: ignore[no-untyped-def]
        def publish(event_type: str, data: dict[str, Any]) -> None:
            self.hub.publish(job_id, event_type, data)

        return publish

    def _heartbeat(
        self, job_id: str, worker_id: str, cancel: threading.Event, lost: threading.Event, done: threading.Event
    ) -> None:
        """Renew the lease every third of it until the job is done; pass cancel requests on."""
        interval = max(1.0, self.settings.lease_seconds / 3)
        while not done.wait(interval):
            try:
                record = self.store.heartbeat(job_id, worker_id, lease_s=self.settings.lease_seconds)
            except LeaseLostError:
                lost.set()
                cancel.set()
                return
            except Exception:
                log.exception("heartbeat for job %s failed", job_id)
                continue
            if record.cancel_requested:
                cancel.set()

    def _compile(
        self, job: JobRecord, worker_id: str, cancel: threading.Event, publish: Any
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        """A compilation (``service.compilations``): the model's groups generated and verified, one
        event per group; its result is the compilation ``kiln compile --json`` prints."""
        from service.compilations import run_compilation

        return run_compilation(
            self.store,
            self.settings,
            job,
            worker_id,
            cancel,
            publish,
            device=self._device(),
            verify_executor=self.executor,
        )

    def _generate(
        self, job: JobRecord, worker_id: str, cancel: threading.Event, publish: Any
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        import agents
        from verifier import VerifyOptions

        resolved = resolve_task(self.store, task_id=job.task_id, reference_source=None, device=self._device())
        resumed = job.attempts > 1 or int((job.progress or {}).get("verified") or 0) > 0
        params = JobParams.of(job)
        progress: dict[str, Any] = {"verified": 0, "accepted": 0, "budget": job.budget, "best": None}
        recorded: dict[str, tuple[int, int]] = {}
        # sha256 -> (candidate id, verification id) of each candidate this attempt verified
        lock = threading.Lock()

        def on_candidate(cand: CandidateResult) -> None:
            """The one record of each verified candidate, as soon as it is verified (a crash loses no verdict)."""
            cand_id, ver_id, _ = record_result(self.store, resolved.task_id, cand, job_id=job.id)
            with lock:
                recorded[cand.sha256] = (cand_id, ver_id)
                progress["verified"] += 1
                progress["accepted"] += cand.accepted

        def on_event(event: dict[str, Any]) -> None:
            kind = str(event.get("type", "event"))
            if kind == "finished":
                # the generator's own end; the job's "finished" (after the store is updated) comes from _run,
                # and a client that stops at the first "finished" must not read a job still marked running
                kind = "generation_finished"
            if kind == "verified" and event.get("sha256") in recorded:
                cand_id, ver_id = recorded[event["sha256"]]
                event = {**event, "candidate_id": cand_id, "verification_id": ver_id}
            elif kind == "best":
                progress["best"] = {k: event.get(k) for k in ("sha256", "origin", "speedup")}
            publish(kind, _small(event))
            if kind in ("verified", "best"):
                self.store.update_progress(job.id, worker_id, progress, lease_s=self.settings.lease_seconds)

        request = agents.GenerationRequest(
            reference=resolved.reference,
            task_id=resolved.task_id,
            language=params.language,  # type: ignore[arg-type]
            proposer=params.proposer,  # type: ignore[arg-type]
            seed_with_template=params.template_seed,
            budget=agents.Budget(max_candidates=int(job.budget or 8)),
            verify_options=VerifyOptions(
                device=self.settings.device,  # type: ignore[arg-type]
                timeout_s=self.settings.timeout_s,
                sandbox=self.settings.sandbox,  # type: ignore[arg-type]
                sandbox_image=self.settings.sandbox_image,
                mode=params.mode,  # type: ignore[arg-type]
            ),
            # an imported problem as written may be too large to trace here: its small tier is not
            trace_shape="small" if not resolved.builtin and "small" in resolved.reference.shapes else None,
            **({"model": model} if (model := params.model or self.settings.llm_model) else {}),
        )
        executor, options = self.executor, request.verify_options

        def verify_fn(prepared: Any, candidate: Any) -> Any:
            if resumed:  # a verdict this job stored before it was interrupted is not verified (or written) again
                stored = self._stored_report(resolved.task_id, prepared, candidate, params.mode)
                if stored is not None:
                    return stored
            return executor.verify(prepared, candidate, options)

        result = (self._generator or agents.generate)(
            request,
            on_event=on_event,
            on_candidate=on_candidate,
            cancel=cancel,
            prepare_fn=lambda reference, opts: executor.prepare(reference, opts),
            verify_fn=verify_fn,
            parallelism=executor.parallelism(),
        )

        best_id = recorded[result.best.sha256][0] if result.best is not None else None
        summary = {
            "task_id": resolved.task_id,
            "best_candidate_id": best_id,
            "best_sha256": result.best.sha256 if result.best else None,
            "best_speedup": result.best.report.speedup if result.best else None,
            "candidates": len(result.candidates),
            "accepted": sum(c.report.verdict == "accepted" for c in result.candidates),
            "stopped_because": result.stopped_because,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "seconds": result.seconds,
            "errors": list(result.errors)[:5],
            "executor": placements_summary([c.report for c in result.candidates]) | {"name": executor.name},
        }
        if cancel.is_set() and (self._stopping.is_set() or result.stopped_because == "cancelled"):
            return "cancelled", None, summary
        if result.best is None:
            why = result.stopped_because
            reasons = [r for c in result.candidates for r in c.report.reasons[:1]][:3]
            detail = f"; first reasons: {reasons}" if reasons else ""
            return "failed", f"no candidate was accepted ({why}; {len(result.candidates)} verified){detail}", summary
        return "succeeded", None, summary

    def _device(self) -> str:
        from service.devices import resolve_device

        hint = getattr(self.executor, "device", None)  # a cluster's verifying nodes, not this host
        if callable(hint) and self.settings.device == "auto":
            return str(hint())
        return resolve_device(self.settings.device)

    def _stored_report(self, task_id: str, prepared: Any, candidate: Any, mode: str) -> Any:
        from verifier import Report

        found = self.store.find_candidate(task_id, candidate.sha256)
        if found is None:
            return None
        stored = self.store.find_verification(
            found.id, prepared.environment, reference_sha256=prepared.reference.sha256, mode=mode
        )
        return Report.from_dict(stored.report) if stored is not None else None


def _small(event: dict[str, Any], limit: int = 4000) -> dict[str, Any]:
    """Events go to browsers as they are: drop sources and cap long strings."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key in ("source", "prompt", "completion"):
            continue
        if isinstance(value, str) and len(value) > limit:
            value = value[:limit] + "…"
        out[key] = value
    return out
