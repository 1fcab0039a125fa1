"""The generators' public data: what a generation job is asked (request, budget) and what it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from verifier.report import Report
from verifier.spec import Reference, VerifyOptions, sha256_text

Language = Literal["triton", "cuda"]
Proposer = Literal["template", "llm"]

STOP_CANDIDATES = "budget: candidates"
STOP_TOKENS = "budget: tokens"
STOP_TIME = "budget: time"
STOP_CANCELLED = "cancelled"
STOP_EXHAUSTED = "exhausted"
STOP_NO_TEMPLATE = "no template"


@dataclass(frozen=True)
class Budget:
    """Limits of one generation job; the first one reached stops it (None: no limit)."""

    max_candidates: int = 8
    """Distinct candidate sources verified (duplicates are verified once and not counted again)."""
    max_tokens: int | None = 200_000
    """LLM prompt + completion tokens: as the endpoint reports them in ``usage``, estimated from the
    characters where it does not (``agents.llm.tokens``); a request's prompt and completion limit are
    reserved before it is sent."""
    max_seconds: float | None = 1800.0
    """Wall-clock seconds for the whole job (checked between candidates and between LLM calls)."""

    def __post_init__(self) -> None:
        if self.max_candidates < 1:
            raise ValueError("max_candidates must be >= 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max_seconds must be > 0")


def default_model() -> str | None:
    return os.environ.get("KILN_LLM_MODEL") or None


@dataclass(frozen=True)
class GenerationRequest:
    """One generation job: the op, the target language, the proposer, the budget and the checks.

    For a task use ``agents.reference_for_task(task_id, device)`` (small shapes on CPU; realistic
    shapes first, then small ones, on a GPU). The LLM endpoint and key come from OPENAI_BASE_URL /
    OPENAI_API_KEY (read by the ``openai`` client itself); ``base_url`` overrides the former.
    """

    reference: Reference
    task_id: str | None = None
    language: Language = "triton"
    proposer: Proposer = "template"
    budget: Budget = field(default_factory=Budget)
    verify_options: VerifyOptions = field(default_factory=VerifyOptions)
    model: str | None = field(default_factory=default_model)
    """LLM model name; default KILN_LLM_MODEL. Required for the LLM proposer."""
    samples_per_round: int = 4
    rounds: int = 4
    temperature: float = 0.7
    max_completion_tokens: int = 8192
    """Upper bound for one completion (also capped by what is left of the token budget)."""
    request_timeout_s: float = 300.0
    """Timeout of one chat-completion request."""
    max_retries: int = 3
    """Retries of a failed request (connection errors, timeouts, 429 and 5xx), with exponential backoff
    or the server's ``Retry-After`` when longer (never past the time budget). A round whose requests
    all failed so is tried again while the time budget lasts, without using up one of ``rounds``."""
    retry_backoff_s: float = 1.0
    """First backoff; doubles on every retry."""
    base_url: str | None = None
    stream: bool = False
    """Stream every completion (server-sent events). Off: streamed only once the endpoint has refused a
    request that was not (a stream-only server), for the rest of the process."""
    seed_with_template: bool = True
    """LLM proposer: verify the template compiler's kernel first and offer it to the model as a starting
    point (round 1's ``improve`` jobs) when there is one. The LLM is asked at least once either way."""
    search_without_timing: bool = False
    """LLM proposer on a CPU: keep asking for improvements after an accepted kernel although nothing
    can be measured (off: the search stops there, see ``agents.ranking``)."""

    trace_shape: str | None = None
    """The shape (a name in ``reference.shapes``) the template compiler traces the op at; None: as written.
    Set it when the source as written is too large to run here (an imported KernelBench problem)."""

    def __post_init__(self) -> None:
        if self.trace_shape is not None and self.trace_shape not in self.reference.shapes:
            raise ValueError(f"trace_shape {self.trace_shape!r} is not one of the reference's shapes")
        if self.language not in ("triton", "cuda"):
            raise ValueError(f"language must be triton or cuda, not {self.language!r}")
        if self.proposer not in ("template", "llm"):
            raise ValueError(f"proposer must be template or llm, not {self.proposer!r}")
        if self.samples_per_round < 1 or self.rounds < 1:
            raise ValueError("samples_per_round and rounds must be >= 1")


@dataclass
class CandidateResult:
    """One verified candidate: its source, where it came from, and the verifier's full report."""

    source: str
    language: str
    origin: str
    """``template`` or ``llm:<model>`` (the service adds ``user``)."""
    report: Report
    params: dict[str, Any] = field(default_factory=dict)
    """Tuning parameters (block sizes, warps, stages) or the LLM round/sample/kind."""
    parent_sha256: str | None = None
    """The candidate this one was derived from (refinement, mutation); crossovers name the first parent
    here and both in ``params['parents']``."""
    tokens: int = 0
    """Completion tokens spent on this candidate (0 for templates)."""
    name: str = ""

    @property
    def sha256(self) -> str:
        return sha256_text(self.source)

    @property
    def accepted(self) -> bool:
        return self.report.accepted

    @property
    def speedup(self) -> float | None:
        return self.report.speedup

    def to_dict(self, include_source: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sha256": self.sha256,
            "name": self.name,
            "language": self.language,
            "origin": self.origin,
            "parent_sha256": self.parent_sha256,
            "params": dict(self.params),
            "tokens": self.tokens,
            "verdict": self.report.verdict,
            "speedup": self.report.speedup,
            "report": self.report.to_dict(),
        }
        if include_source:
            out["source"] = self.source
        return out


@dataclass
class GenerationResult:
    """What a generation job found. ``best`` is always a verifier-accepted candidate, or None."""

    best: CandidateResult | None
    candidates: list[CandidateResult]
    stopped_because: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    proposer: str = "template"
    language: str = "triton"
    task_id: str | None = None
    device: str | None = None

    @property
    def accepted(self) -> list[CandidateResult]:
        return [c for c in self.candidates if c.accepted]

    def summary(self) -> dict[str, Any]:
        """Small JSON-able summary (no sources, no reports): what the ``finished`` event carries."""
        best = self.best
        return {
            "task_id": self.task_id,
            "proposer": self.proposer,
            "language": self.language,
            "device": self.device,
            "stopped_because": self.stopped_because,
            "candidates": len(self.candidates),
            "accepted": len(self.accepted),
            "best_sha256": best.sha256 if best else None,
            "best_origin": best.origin if best else None,
            "best_speedup": best.speedup if best else None,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
            "errors": [e[:500] for e in self.errors[:5]],
        }

    def to_dict(self, include_sources: bool = True) -> dict[str, Any]:
        return {
            **self.summary(),
            "errors": list(self.errors),
            "best": self.best.to_dict(include_sources) if self.best else None,
            "candidates": [c.to_dict(include_sources) for c in self.candidates],
        }
