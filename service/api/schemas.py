"""Request and response bodies of the HTTP API (pydantic; they define the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TASK_ID = 200
Mode = Literal["forward", "backward", "both"]
"""What is verified: the forward, a training step (forward and backward, gradients checked against
autograd's), or both one after the other. Anything else is a 422 naming these values."""
MODE_DESCRIPTION = (
    "forward | backward (a training kernel: a torch.autograd.Function whose backward launches kernels; "
    "gradients checked against autograd) | both"
)


class _TaskOrReference(BaseModel):
    """A body that names a task (``task_id``) or carries a reference (``reference_source``), not both."""

    @model_validator(mode="after")
    def _one_reference(self) -> _TaskOrReference:
        if (getattr(self, "task_id", None) is None) == (getattr(self, "reference_source", None) is None):
            raise ValueError("give exactly one of task_id and reference_source")
        return self


class JobCreate(_TaskOrReference):
    """Either a built-in (or stored) task id, or a reference source in KernelBench format."""

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(None, max_length=MAX_TASK_ID, examples=["dwconv2d.convnext_7x7"])
    reference_source: str | None = Field(
        None, description="KernelBench-format module: Model, get_inputs, get_init_inputs"
    )
    language: Literal["triton", "cuda"] = "triton"
    proposer: Literal["template", "llm"] = "template"
    budget: int = Field(8, ge=1, description="Most candidates to verify (capped by KILN_MAX_BUDGET)")
    model: str | None = Field(None, max_length=200, description="LLM model name (default: KILN_LLM_MODEL)")
    template_seed: bool = Field(
        True,
        description="LLM proposer: verify the template compiler's kernel first and offer it to the model "
        "as a starting point (the LLM is asked at least once either way)",
    )
    mode: Mode = Field("forward", description=MODE_DESCRIPTION)


class JobLinks(BaseModel):
    """Relative to the server (``/v1/jobs/ID``), or absolute under ``KILN_PUBLIC_URL`` when that is set."""

    self: str
    events: str
    cancel: str


class _RunView(BaseModel):
    """What a job and a compilation share: identity, state and the times of their runs."""

    id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    error: str | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobView(_RunView):
    task_id: str | None
    language: str | None = None
    proposer: str | None = None
    mode: str = "forward"
    budget: int | None
    progress: dict[str, Any]
    result: dict[str, Any] | None
    best: dict[str, Any] | None = Field(None, description="Best verified kernel so far: source and report")
    waiting: str | None = Field(
        None,
        description="Why a queued job is not started: this server's executor cannot verify now "
        "(e.g. its Ray cluster does not answer, or no node offers kiln_verify or a GPU)",
    )
    links: JobLinks


class CompilationCreate(BaseModel):
    """A whole model to compile (``kiln compile`` over HTTP): its kernel groups made tasks, each generated
    and verified."""

    model_config = ConfigDict(extra="forbid")

    model_source: str = Field(description="KernelBench-format module: Model, get_inputs, get_init_inputs")
    name: str = Field(
        "model",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="The model's name (its compile run is the suite compile:NAME)",
    )
    shapes: dict[str, Any] | None = Field(
        None,
        description="Top-level constants of the model and their values (as kiln compile --shape: "
        "numbers, strings, booleans, null and arrays of them); overrides tier",
        examples=[{"batch_size": 2, "input_shape": [2, 3, 32, 32]}],
    )
    tier: Literal["small", "as_written"] = "small"
    proposer: Literal["template", "llm"] = "template"
    fallback: Literal["llm"] | None = Field(
        None, description="llm: the groups the templates leave without a verified kernel go to the LLM proposer"
    )
    budget: int = Field(4, ge=1, description="Most candidates verified per group (capped by KILN_MAX_BUDGET)")


class CompilationLinks(BaseModel):
    self: str
    events: str
    cancel: str


class CompilationView(_RunView):
    name: str
    tier: str
    shapes: dict[str, Any] | None
    proposer: str
    budget: int | None
    progress: dict[str, Any] = Field(description="stage, groups, tasks done of total, verdicts so far")
    report: dict[str, Any] | None = Field(
        None,
        description="When finished: the compilation as kiln compile --json prints it (per group its ops, key, "
        "task, verdict, reason; the coverage of FLOPs and bytes)",
    )
    waiting: str | None = None
    links: CompilationLinks


class VerifyRequest(_TaskOrReference):
    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(None, max_length=MAX_TASK_ID)
    reference_source: str | None = None
    candidate_source: str
    language: Literal["triton", "cuda", "auto"] = "auto"
    mode: Mode = Field("forward", description=MODE_DESCRIPTION)


class VerifyResponse(BaseModel):
    verdict: Literal["accepted", "rejected", "not_run"]
    mode: str = Field(description="what was verified (a stored verdict answers only a request of its own mode)")
    task_id: str
    candidate_id: int
    verification_id: int
    cached: bool = Field(description="True when this exact source was already verified in this environment and mode")
    report: dict[str, Any]


class TaskSummary(BaseModel):
    id: str
    family: str
    title: str
    builtin: bool
    dtypes: list[str] = []
    shapes: list[dict[str, Any]] = []


class TaskDetail(TaskSummary):
    description: str = ""
    source: str
    tolerances: dict[str, Any] = {}
    allowed_ops: list[str] = []
    roofline: list[dict[str, Any]] = []


class KernelView(BaseModel):
    task_id: str
    mode: str = Field(description="forward, backward or both: each mode is ranked apart")
    hardware_fingerprint: str
    device_name: str
    measured: bool
    speedup_eager: float | None
    speedup_compiled: float | None
    candidate_id: int
    origin: str
    origin_detail: str
    language: str
    sha256: str
    created_at: datetime
    source: str | None = None
    report: dict[str, Any] | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    workers: int
    version: str
    sandbox: str = "unknown"
    """The sandbox verifications run in (``docker``, ``bwrap``, ``unshare``), or ``unavailable: why``."""
