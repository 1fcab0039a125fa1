"""Compilations over HTTP (``POST /v1/compilations``): ``kiln compile`` run as a job of kind ``compile``.

The route (``service/api/routes_compilations.py``) calls ``submit_compilation``: the same checks as a
generation job (budget cap, active jobs per owner, a KernelBench-format source, strict JSON) plus the
shape's constants, all before the job is stored. The job runner (``service/runner.py``) claims it and
calls ``run_compilation``: the model's shape (small tier, sandboxed), its capture (in a sandboxed child:
a submitted model never runs in the server process nor outside a sandbox), then its groups generated and
verified as ``kiln compile`` does (``service.compile.compiler.compile_model``), with one event per
group on the job's stream. The job's result is the compilation that ``kiln compile --json`` prints.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import status

from kernels_store import ActiveJobLimitError, JobRecord, LeaseLostError, Store
from service.api.schemas import CompilationCreate
from service.refusals import Refused
from service.settings import Settings

KIND = "compile"
MAX_SHAPES = 32
MAX_SHAPE_ITEMS = 64
"""Elements in one shape value (an array), counted through nesting."""

Publish = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class CompileParams:
    """What a compile job is asked (stored as the job's ``params``; its budget is the job's)."""

    model_source: str
    name: str = "model"
    shapes: dict[str, Any] | None = None
    tier: str = "small"
    proposer: str = "template"
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"model_source": self.model_source, "name": self.name, "tier": self.tier, "proposer": self.proposer}
        return (
            out
            | ({"shapes": self.shapes} if self.shapes else {})
            | ({"fallback": self.fallback} if self.fallback else {})
        )

    @classmethod
    def of(cls, job: JobRecord) -> CompileParams:
        raw: Mapping[str, Any] = job.params or {}
        shapes = raw.get("shapes")
        return cls(
            model_source=str(raw.get("model_source") or ""),
            name=str(raw.get("name") or "model"),
            shapes=dict(shapes) if isinstance(shapes, dict) else None,
            tier=str(raw.get("tier") or "small"),
            proposer=str(raw.get("proposer") or "template"),
            fallback=str(raw["fallback"]) if raw.get("fallback") else None,
        )


def _shape_value(name: str, value: Any, budget: list[int], depth: int = 0) -> None:
    """A shape's value is a Python literal from JSON: numbers, strings, booleans, null, arrays of them."""
    budget[0] -= 1
    if budget[0] < 0:
        raise Refused(422, f"shapes.{name}: more than {MAX_SHAPE_ITEMS} elements")
    if isinstance(value, list):
        if depth >= 4:
            raise Refused(422, f"shapes.{name}: arrays nested deeper than 4 levels")
        for item in value:
            _shape_value(name, item, budget, depth + 1)
    elif isinstance(value, str):
        if len(value) > 200:
            raise Refused(422, f"shapes.{name}: a string longer than 200 characters")
    elif value is not None and not isinstance(value, bool | int | float):
        raise Refused(422, f"shapes.{name}: {type(value).__name__} is not a number, string, boolean, null or array")


def check_shapes(shapes: dict[str, Any], top_level: set[str]) -> None:
    """Every name a top-level constant of the model, every value a small literal (``Refused`` 422)."""
    from service.api.strict_json import shorten

    if len(shapes) > MAX_SHAPES:
        raise Refused(422, f"shapes: {len(shapes)} constants; at most {MAX_SHAPES}")
    for name, value in shapes.items():
        if not name.isidentifier():
            raise Refused(422, f"shapes: {shorten(name)!r} is not a Python name")
        if name not in top_level:
            raise Refused(422, f"shapes: the model defines no top-level constant {shorten(name)!r}")
        _shape_value(name, value, [MAX_SHAPE_ITEMS])


def submit_compilation(store: Store, settings: Settings, body: CompilationCreate, *, owner: str) -> JobRecord:
    """Queue a compile job for the submitted model (``body``).

    Refused (``Refused``): a budget above ``KILN_MAX_BUDGET`` (422), the llm proposer without
    ``KILN_LLM_MODEL`` (422), ``KILN_MAX_ACTIVE_JOBS`` queued or running for this owner (429; generation
    jobs and compilations count together), a source that is not a KernelBench module (422; 413 over
    ``KILN_MAX_SOURCE_BYTES``), shapes naming no top-level constant or holding anything but small
    literals (422).
    """
    from service.api.validation import check_reference
    from service.jobs import too_many

    if body.budget > settings.max_budget:
        raise Refused(422, f"budget {body.budget} exceeds this server's cap of {settings.max_budget} (KILN_MAX_BUDGET)")
    if (body.proposer == "llm" or body.fallback == "llm") and not settings.llm_model:
        raise Refused(
            422,
            f"the llm {'fallback' if body.fallback else 'proposer'} needs a model: set KILN_LLM_MODEL on the server",
        )
    if body.fallback is not None and body.proposer != "template":
        raise Refused(422, "fallback llm follows the template proposer: give proposer template")
    limit = settings.max_active_jobs_per_owner
    active = store.list_jobs(status=["queued", "running"], owner_token=owner, limit=1).total
    if active >= limit:  # the early answer, before any parsing; create_job checks again, atomically
        raise too_many(active, limit)
    top_level = check_reference(body.model_source, settings.max_source_bytes, what="model_source")
    if body.shapes:
        check_shapes(body.shapes, top_level)
    params = CompileParams(
        model_source=body.model_source,
        name=body.name,
        shapes=body.shapes or None,
        tier=body.tier,
        proposer=body.proposer,
        fallback=body.fallback,
    )
    try:
        return store.create_job(
            kind=KIND, task_id=None, params=params.to_dict(), budget=body.budget, owner_token=owner, max_active=limit
        )
    except ActiveJobLimitError as e:
        raise too_many(e.active, limit) from None


def compilation_not_found(job_id: str) -> Refused:
    from service.api.strict_json import shorten

    return Refused(status.HTTP_404_NOT_FOUND, f"no compilation {shorten(job_id)!r}")


def work_dir(job_id: str) -> Path:
    """Where a compile job keeps its ``compilation.json`` while it runs (a requeued job resumes from it)."""
    return Path(tempfile.gettempdir()) / "kiln-compilations" / job_id


def forget(job_id: str) -> None:
    """A finished compile job's working directory goes (its result holds the compilation)."""
    shutil.rmtree(work_dir(job_id), ignore_errors=True)


def public_report(compilation: dict[str, Any]) -> dict[str, Any]:
    """The compilation as ``kiln compile --json`` prints it, without the server's paths."""
    return {k: v for k, v in compilation.items() if k != "model_path"}


def run_compilation(
    store: Store,
    settings: Settings,
    job: JobRecord,
    worker_id: str,
    cancel: threading.Event,
    publish: Publish,
    *,
    device: str,
    verify_executor: Any,
) -> tuple[str, str | None, dict[str, Any] | None]:
    """Run a compile job; returns (status, error, result) for ``finish_job`` (``cancelled`` when
    ``cancel`` stopped it: the caller decides whether that is a cancel or a shutdown)."""
    from service.compile.children import ChildError
    from service.compile.compiler import CompileConfig, compile_model
    from service.compile.shapes import ShapeError
    from service.public_text import public_message
    from verifier.hostinfo import describe_host

    params = CompileParams.of(job)
    work = work_dir(job.id)
    work.mkdir(parents=True, exist_ok=True)
    model_path = work / f"{params.name}.py"
    model_path.write_text(params.model_source, encoding="utf-8")
    config = CompileConfig(
        tier=params.tier,
        overrides=dict(params.shapes or {}),
        proposer=params.proposer,
        fallback=params.fallback,
        model=settings.llm_model if params.proposer == "llm" or params.fallback else None,
        budget=int(job.budget or 4),
        device=device,
        timeout_s=settings.timeout_s,
        workers=1,
        executor=getattr(verify_executor, "name", "local"),
        sandbox=settings.sandbox,
    )
    progress: dict[str, Any] = {"stage": "shape", "tasks": 0, "done": 0, "accepted": 0, "rejected": 0}
    lock = threading.Lock()

    def save() -> None:
        try:
            store.update_progress(job.id, worker_id, dict(progress), lease_s=settings.lease_seconds)
        except LeaseLostError:
            cancel.set()

    def note(message: str) -> None:
        if message.startswith("shape:"):
            progress["stage"] = "capture"
            save()
        publish("note", {"message": message[:1000]})

    def listener(event: dict[str, Any]) -> None:
        kind = event.get("type")
        with lock:
            if kind == "run_started":
                progress.update(stage="verify", tasks=event.get("total", 0), done=event.get("done", 0))
                publish("groups", {"tasks": progress["tasks"], "done": progress["done"]})
            elif kind == "task_started":
                publish("group_started", {"task_id": event.get("task_id")})
            elif kind == "candidate_verified":
                publish("verified", {"task_id": event.get("task_id"), "verdict": event.get("verdict")})
                return
            elif kind == "task_finished":
                outcome = event.get("outcome")
                verdict = getattr(outcome, "verdict", None) or event.get("verdict")
                progress["done"] += 1
                if verdict in ("accepted", "rejected"):
                    progress[verdict] += 1
                publish(
                    "group",
                    {
                        "task_id": event.get("task_id"),
                        "verdict": verdict,
                        "reason": public_message(str(getattr(outcome, "reason", "") or ""))[:500],
                        "done": progress["done"],
                        "tasks": progress["tasks"],
                    },
                )
            else:
                return
            save()

    try:
        compilation = compile_model(
            store,
            model_path,
            work / "out",
            config,
            describe_host(device),
            listener=listener,
            cancel=cancel,
            verify_executor=verify_executor,
            on_note=note,
        )
    except (ChildError, ShapeError, ValueError) as e:
        return "failed", public_message(str(e)), None
    report = public_report(compilation)
    coverage = report.get("coverage") or {}
    progress.update(stage="done" if report.get("status") == "completed" else "stopped", coverage=coverage)
    save()
    if report.get("status") == "completed":
        return "succeeded", None, report
    if cancel.is_set():
        return "cancelled", None, report
    return "failed", f"the compile stopped before every group was verified ({report.get('status')})", report
