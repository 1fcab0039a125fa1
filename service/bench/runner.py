"""``kiln bench``'s engine: run a generator over a suite, storing every candidate and verdict as it happens.

A run is a ``bench_runs`` row and one ``bench_run_tasks`` row per task. For each task (on the
executor, see ``executors``): choose its shapes (the tier), generate with the proposer, store each
verified candidate and its report the moment it is verified, and note it in the run's task row;
when the task ends, its verdict, reason and speedups. Ctrl-C (or a crash) loses nothing: a resumed
run skips finished tasks and, within an unfinished one, re-uses the verdicts recorded in the run
instead of verifying the same candidate source again.

Tiers: ``small`` verifies built-in tasks on their small shapes and KernelBench problems on the
automatic small tier (``tasks.shrink``, computed once per source and kept with the stored task); on
a GPU the shape as written (a built-in task's realistic shapes) comes first, so it is the one
timed. ``as_written`` verifies the source's own constants (a built-in task's realistic shapes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kernels_store import RunRecord, Store
from service.bench.executors import Executor
from service.bench.suite import SMALL_TIER_KEY, SuiteTask
from service.bench.summary import run_summary
from service.persistence import record_result
from service.task_lookup import task_reference

if TYPE_CHECKING:
    from agents import CandidateResult

TIERS = ("small", "as_written")
MODES = ("forward", "backward")
"""A run's verification mode (``kiln bench --mode both`` makes one run of each)."""
NOTHING_DIFFERENTIABLE = "no output of the reference depends on an input or parameter with a gradient"
"""What the verifier says of a reference that has nothing to differentiate (``verifier.backward``)."""
Event = dict[str, Any]
Listener = Callable[[Event], None]
PrepareFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class BenchConfig:
    tier: str = "small"
    proposer: str = "template"
    budget: int = 4
    model: str | None = None
    device: str = "cpu"
    timeout_s: float = 180.0
    trials: int = 3
    language: str = "triton"
    mode: str = "forward"
    fallback: str | None = None
    """``llm``: a task the template proposer leaves without an accepted kernel is then given to the LLM
    proposer (``model``), which sees the reference afresh (the template's rejected candidates are in the
    run's record, not in its prompt)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"--mode must be forward, backward or both, not {self.mode!r}")
        if self.tier not in TIERS:
            raise ValueError(f"--tier must be small or as_written, not {self.tier!r}")
        if self.proposer not in ("template", "llm"):
            raise ValueError(f"--proposer must be template or llm, not {self.proposer!r}")
        if self.budget < 1:
            raise ValueError("--budget must be at least 1")
        if self.fallback not in (None, "llm"):
            raise ValueError(f"--fallback must be llm, not {self.fallback!r}")
        if self.fallback is not None and self.proposer != "template":
            raise ValueError("--fallback llm follows the template proposer: give --proposer template")
        if (self.proposer == "llm" or self.fallback == "llm") and not self.model:
            raise ValueError("the LLM proposer needs a model: set KILN_LLM_MODEL or pass --model")

    @property
    def generator(self) -> str:
        if self.fallback == "llm":
            return f"template+llm:{self.model}"
        return f"llm:{self.model}" if self.proposer == "llm" else self.proposer

    def options(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "timeout_s": self.timeout_s,
            "trials": self.trials,
            "language": self.language,
            "mode": self.mode,
        } | ({"fallback": self.fallback} if self.fallback else {})

    def create_run(
        self,
        store: Store,
        task_ids: Sequence[str],
        *,
        suite: str,
        executor: str,
        host: Mapping[str, Any],
        **options: Any,
    ) -> RunRecord:
        """A new stored run of this configuration over ``task_ids`` on ``host`` (``describe_host``'s
        fields), its options ``self.options()`` and ``options`` (``kiln bench`` and ``kiln compile``)."""
        return store.create_run(
            task_ids,
            suite=suite,
            tier=self.tier,
            proposer=self.proposer,
            generator=self.generator,
            executor=executor,
            budget=self.budget,
            device=self.device,
            device_name=str(host.get("device_name", self.device)),
            hardware_fingerprint=str(host["hardware_fingerprint"]),
            options={**self.options(), **options},
        )


@dataclass
class TaskOutcome:
    task_id: str
    verdict: str | None
    """None: interrupted before the task finished (it stays to be done)."""
    reason: str = ""
    reference_ok: bool = False
    shapes: dict[str, Any] = field(default_factory=dict)
    changed_constants: dict[str, Any] = field(default_factory=dict)
    speedup_eager: float | None = None
    speedup_compiled: float | None = None
    seconds: float = 0.0
    candidates: int = 0
    best_candidate_id: int | None = None
    reused: int = 0
    """Candidates whose verdict came from the run's own earlier record (``--resume``)."""


class BenchRunner:
    """Runs (or resumes) one bench run against a store. ``cancel`` stops it between candidates."""

    def __init__(
        self,
        store: Store,
        run: RunRecord,
        config: BenchConfig,
        executor: Executor,
        *,
        listener: Listener | None = None,
        cancel: threading.Event | None = None,
        shrink_fn: Callable[[str], Any] | None = None,
        verify_fn: Callable[[Any, Any], Any] | None = None,
        verify_executor: Any = None,
    ) -> None:
        """``executor`` runs tasks (threads here); ``verify_executor`` (``service.executors``: local
        or ray) prepares references and verifies candidates; None: the verifier in this process."""
        self.store = store
        self.run = run
        self.config = config
        self.executor = executor
        self.listener = listener
        self.cancel = cancel or threading.Event()
        self._shrink_fn = shrink_fn
        self._verify_fn = verify_fn
        self._verify_executor = verify_executor
        self._lock = threading.Lock()
        self._shrink_runner: Any = None

    # -- events ---------------------------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        if self.listener is not None:
            self.listener({"type": kind, **data})

    # -- the run --------------------------------------------------------------------------------
    def execute(self, suite: list[SuiteTask]) -> RunRecord:
        """Run every task of ``suite`` that the run has not finished; returns the run's final record."""
        done = {t.task_id for t in self.store.run_tasks(self.run.id) if t.status == "done"}
        todo = [t for t in suite if t.id not in done]
        self.emit("run_started", run_id=self.run.id, total=len(suite), done=len(done), todo=len(todo))
        self.store.set_run_status(self.run.id, "running")
        self.executor.map(self._run_task, todo, self._task_finished, self.cancel)
        rows = self.store.run_tasks(self.run.id)
        status = "completed" if all(t.status == "done" for t in rows) else "interrupted"
        record = self.store.set_run_status(self.run.id, status, summary=run_summary(self.store, rows))
        self.emit("run_finished", run_id=self.run.id, status=status)
        return record

    def _task_finished(self, task: SuiteTask, outcome: TaskOutcome | BaseException) -> None:
        if isinstance(outcome, BaseException):
            outcome = TaskOutcome(task.id, "no_kernel", reason=f"internal error: {type(outcome).__name__}: {outcome}")
            self._store_outcome(outcome)
        self.emit("task_finished", task_id=task.id, verdict=outcome.verdict, outcome=outcome)

    def _store_outcome(self, outcome: TaskOutcome) -> None:
        if outcome.verdict is None:  # interrupted: to be done by a resumed run
            self.store.update_run_task(self.run.id, outcome.task_id, status="pending")
            return
        self.store.update_run_task(
            self.run.id,
            outcome.task_id,
            status="done",
            verdict=outcome.verdict,
            reason=outcome.reason[:4000],
            reference_ok=outcome.reference_ok,
            shapes=outcome.shapes,
            changed_constants=outcome.changed_constants,
            speedup_eager=outcome.speedup_eager,
            speedup_compiled=outcome.speedup_compiled,
            seconds=round(outcome.seconds, 3),
            candidates=outcome.candidates,
            best_candidate_id=outcome.best_candidate_id,
        )

    def _run_task(self, task: SuiteTask) -> TaskOutcome:
        started = time.monotonic()
        record = self.store.get_task(task.id) or task.record
        self.store.update_run_task(self.run.id, task.id, status="running", source_sha256=record.source_sha256)
        self.emit("task_started", task_id=task.id)
        outcome = TaskOutcome(task.id, None)
        try:
            shapes = self._shapes(task, record, outcome)
            if shapes is not None and not self.cancel.is_set():
                self._generate(task, record, shapes, outcome)
        finally:
            outcome.seconds += time.monotonic() - started
            self._store_outcome(outcome)
        return outcome

    # -- shapes ---------------------------------------------------------------------------------
    def _shapes(self, task: SuiteTask, record: Any, outcome: TaskOutcome) -> dict[str, dict[str, Any]] | None:
        """The shapes to verify on (name -> overrides; empty: as written), or None when the task ends here."""
        gpu = self.config.device == "cuda"
        if task.builtin is not None:
            builtin = task.builtin
            small = {s.name: dict(s.params) for s in builtin.shapes_in("small")}
            realistic = {s.name: dict(s.params) for s in builtin.shapes_in("realistic")}
            if self.config.tier == "as_written":
                return realistic or small
            return {**realistic, **small} if gpu else small
        if self.config.tier == "as_written":
            return {}
        self.emit("task_note", task_id=task.id, message="choosing the small shape")
        result = self._small_tier(record)
        outcome.changed_constants = {k: list(v) for k, v in result.changed.items()}
        if result.status == "reference_failed":
            outcome.verdict, outcome.reason, outcome.reference_ok = "reference_failed", result.reason, False
            return None
        if result.status != "ok":
            outcome.verdict, outcome.reason, outcome.reference_ok = "no_small_shape", result.reason, True
            return None
        small = {"small": dict(result.params)}
        return {"as_written": {}, **small} if gpu else small

    def _small_tier(self, record: Any) -> Any:
        """The shrinker's result for the task's current source: kept with the stored task, computed once."""
        from tasks.shrink import SandboxRunner, ShrinkResult, shrink, small_shape_note

        cached = record.extra.get(SMALL_TIER_KEY)
        if isinstance(cached, dict) and cached.get("source_sha256") == record.source_sha256:
            return ShrinkResult.from_dict(cached)
        if self._shrink_fn is not None:
            result = self._shrink_fn(record.source)
        else:
            with self._lock:
                if self._shrink_runner is None:
                    self._shrink_runner = SandboxRunner(timeout_s=self.config.timeout_s)
            result = shrink(record.source, run=self._shrink_runner)
        shapes = [s for s in (record.shapes or []) if isinstance(s, dict) and s.get("name") != "small"]
        if result.ok:
            shapes = [{"name": "small", "tier": "small", "params": result.params, "note": small_shape_note(result)}]
            shapes += [s for s in (record.shapes or []) if isinstance(s, dict) and s.get("name") != "small"]
        extra = {**record.extra, SMALL_TIER_KEY: result.to_dict()}
        current = self.store.get_task(record.id)
        if current is not None and current.source_sha256 == record.source_sha256:
            self.store.put_task(record.id, record.source, shapes=shapes, extra=extra)
        return result

    # -- generation -----------------------------------------------------------------------------
    def _generate(self, task: SuiteTask, record: Any, shapes: dict[str, dict[str, Any]], outcome: TaskOutcome) -> None:
        import agents

        outcome.shapes = shapes
        builtin = task.builtin
        reference = task_reference(task.id, record.source, shapes, record.extra)
        prepare_fn = self._prepare_fn()
        if self.config.mode != "forward":
            prepared = self._differentiable(reference, prepare_fn, outcome)
            if prepared is None:
                return
            prepare_fn = _prepared_once(prepared)
        earlier = self._earlier_verdicts(task.id)
        verify = self._resuming_verify(earlier, outcome)
        verified_ids: dict[str, int] = {}

        def on_candidate(candidate: CandidateResult) -> None:
            sha = candidate.sha256
            if sha in earlier:
                cand_id = earlier[sha][0]
            else:
                cand_id, ver_id, _ = record_result(
                    self.store, task.id, candidate, more_params={"bench_run": self.run.id}
                )
                self.store.note_run_verified(self.run.id, task.id, sha, ver_id)
            verified_ids[sha] = cand_id

        def on_event(event: Event) -> None:
            kind = event.get("type")
            if kind == "verified":
                self.emit("candidate_verified", task_id=task.id, verdict=event.get("verdict"), name=event.get("name"))
            elif kind == "proposed":
                self.emit("task_note", task_id=task.id, message=f"verifying {event.get('name')}")

        remote = self._verify_executor

        def generate(proposer: str) -> Any:
            request = agents.GenerationRequest(
                reference=reference,
                task_id=task.id,
                language=self.config.language,  # type: ignore[arg-type]
                proposer=proposer,  # type: ignore[arg-type]
                budget=agents.Budget(max_candidates=self.config.budget, max_seconds=None),
                verify_options=_options(self.config),
                trace_shape="small" if "small" in shapes and builtin is None else None,
                seed_with_template=self.config.fallback is None,
                **({"model": self.config.model} if self.config.model else {}),
            )
            return agents.generate(
                request,
                on_event=on_event,
                on_candidate=on_candidate,
                cancel=self.cancel,
                verify_fn=verify,
                prepare_fn=prepare_fn,
                parallelism=remote.parallelism() if remote is not None else 1,
            )

        result = generate(self.config.proposer)
        if (
            self.config.fallback == "llm"
            and result.best is None
            and not (self.cancel.is_set() or _reference_error(result))
        ):
            self.emit("task_note", task_id=task.id, message=f"template: {result.stopped_because}; asking the LLM")
            result = _after_fallback(result, generate("llm"))
        outcome.candidates = len(result.candidates)
        if result.stopped_because == "cancelled" and result.best is None:
            outcome.verdict = None  # interrupted: the task is done again (without its verified candidates)
            return
        outcome.reference_ok = bool(result.candidates) or not _reference_error(result)
        if result.best is not None:
            timing = result.best.report.timing
            outcome.verdict = "accepted"
            outcome.reason = f"{result.best.name} accepted" + (
                "" if timing is not None else " (not timed: no GPU)" if self.config.device != "cuda" else ""
            )
            outcome.speedup_eager = timing.speedup_eager if timing is not None else None
            outcome.speedup_compiled = timing.speedup_compiled if timing is not None else None
            outcome.best_candidate_id = verified_ids.get(result.best.sha256)
        elif result.candidates:
            first = next((c for c in result.candidates if c.report.reasons), result.candidates[0])
            outcome.verdict = "rejected"
            outcome.reason = f"{first.name}: {(first.report.reasons or ['rejected'])[0]}"
        elif _reference_error(result):
            outcome.verdict, outcome.reference_ok = "reference_failed", False
            outcome.reason = "; ".join(result.errors)[:2000] or result.stopped_because
        else:
            outcome.verdict = "no_kernel"
            outcome.reason = ("; ".join(result.errors) or result.stopped_because)[:2000]

    def _prepare_fn(self) -> Callable[[Any, Any], Any] | None:
        remote = self._verify_executor
        return (lambda ref, opts: remote.prepare(ref, opts)) if remote is not None else None

    def _differentiable(self, reference: Any, prepare_fn: PrepareFn | None, outcome: TaskOutcome) -> Any:
        """Backward mode: the reference prepared for training (every floating-point input requires grad,
        parameters keep ``requires_grad``), or None when the task ends here: ``skipped`` when nothing of
        it is differentiable, ``reference_failed`` when it does not run."""
        from verifier import VerifierError, prepare
        from verifier.errors import SandboxUnavailableError

        self.emit("task_note", task_id=outcome.task_id, message="running the reference with autograd")
        try:
            return (prepare_fn or prepare)(reference, _options(self.config))
        except SandboxUnavailableError:
            raise
        except VerifierError as e:
            text = str(e)
            if NOTHING_DIFFERENTIABLE in text:
                outcome.verdict, outcome.reference_ok = "skipped", True
                outcome.reason = f"nothing differentiable: {NOTHING_DIFFERENTIABLE}"
            else:
                outcome.verdict, outcome.reference_ok, outcome.reason = "reference_failed", False, text[:2000]
            return None

    def _earlier_verdicts(self, task_id: str) -> dict[str, tuple[int, Any]]:
        """Candidates verified for this task earlier in the run: sha256 -> (candidate id, Report)."""
        rows = [t for t in self.store.run_tasks(self.run.id) if t.task_id == task_id]
        out: dict[str, tuple[int, Any]] = {}
        for sha, ver_id in (rows[0].verified if rows else {}).items():
            record = self.store.get_verification(int(ver_id))
            if record is not None:
                out[sha] = (record.candidate_id, record.to_report())
        return out

    def _resuming_verify(self, earlier: dict[str, tuple[int, Any]], outcome: TaskOutcome) -> Callable[[Any, Any], Any]:
        def verify(prepared: Any, candidate: Any) -> Any:
            found = earlier.get(candidate.sha256)
            if found is not None:
                outcome.reused += 1
                self.emit("task_note", task_id=outcome.task_id, message=f"{candidate.name}: verdict from this run")
                return found[1]
            if self._verify_fn is not None:
                return self._verify_fn(prepared, candidate)
            if self._verify_executor is not None:
                return self._verify_executor.verify(prepared, candidate, _options(self.config))
            import verifier

            return verifier.verify(prepared, candidate, _options(self.config))

        return verify


def _after_fallback(template: Any, llm: Any) -> Any:
    """One result of a task's template attempt and its LLM fallback: every candidate of both, the LLM's
    best and stop reason, and both attempts' errors (the template's say why it gave no kernel)."""
    from dataclasses import replace

    template_errors = template.errors or [template.stopped_because]
    return replace(
        llm,
        candidates=[*template.candidates, *llm.candidates],
        errors=[*llm.errors, *(f"template: {e}" for e in template_errors)],
    )


def _options(config: BenchConfig) -> Any:
    from verifier import VerifyOptions

    return VerifyOptions(
        device=config.device,  # type: ignore[arg-type]
        timeout_s=config.timeout_s,
        trials=config.trials,
        mode=config.mode,  # type: ignore[arg-type]
    )


def _prepared_once(prepared: Any) -> Callable[[Any, Any], Any]:
    """A ``prepare_fn`` handing over the reference already prepared (it is not run twice)."""

    def prepare_fn(reference: Any, options: Any) -> Any:
        return prepared

    return prepare_fn


def _reference_error(result: Any) -> bool:
    text = " ".join(result.errors).lower()
    return result.stopped_because.startswith("error") and "reference" in text
