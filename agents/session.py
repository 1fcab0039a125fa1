"""One generation job's bookkeeping: the prepared reference, verification, dedupe, budgets, events, best.

Every candidate a proposer produces goes through ``Session.submit``: it is deduplicated by source
sha256 (each distinct source is verified once), counted against the candidate budget, verified with
``verifier.verify`` against the reference prepared once per job, recorded with its full report, and
announced with small JSON-able events. ``best`` only ever holds a verifier-accepted candidate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from agents import ranking
from agents.types import (
    STOP_CANCELLED,
    STOP_CANDIDATES,
    STOP_TIME,
    STOP_TOKENS,
    CandidateResult,
    GenerationRequest,
    GenerationResult,
)
from verifier import Candidate, PreparedReference, Reference, Report, VerifyOptions, prepare, verify
from verifier.spec import sha256_text

CandidateSink = Callable[[CandidateResult], None]
EventSink = Callable[[dict[str, Any]], None]
VerifyFn = Callable[[PreparedReference, Candidate], Report]
PrepareFn = Callable[[Reference, VerifyOptions], PreparedReference]


class VerifierUnavailable(Exception):
    """Where verifications run is gone (a cluster's head, say): the job stops with no verdict for the
    candidate in hand, and ``generate`` raises this to its caller instead of ending the job, so that
    the caller can hand the job back (the service's runner puts it back in the queue)."""


class Stop(Exception):
    """Ends the job: ``reason`` becomes ``GenerationResult.stopped_because``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _short(reasons: list[str], limit: int = 3, width: int = 300) -> list[str]:
    return [r if len(r) <= width else r[: width - 1] + "…" for r in reasons[:limit]]


class Session:
    def __init__(
        self,
        request: GenerationRequest,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        verify_fn: VerifyFn | None = None,
        prepare_fn: PrepareFn | None = None,
        parallelism: int = 1,
        on_candidate: CandidateSink | None = None,
    ) -> None:
        """``prepare_fn``/``verify_fn`` replace ``verifier.prepare``/``verify`` (an executor that runs
        them elsewhere, tests); ``parallelism``: how many candidates a proposer may have verified at
        once (``submit`` is thread-safe; the LLM loop verifies a round's samples concurrently).
        ``on_candidate`` gets each verified candidate once, with its source and report, before its
        ``verified`` event: the one place a consumer records it."""
        self.request = request
        self.on_event = on_event
        self.on_candidate = on_candidate
        self.cancel = cancel or threading.Event()
        self.started = time.monotonic()
        self.candidates: list[CandidateResult] = []
        self.by_sha: dict[str, CandidateResult] = {}
        self.best: CandidateResult | None = None
        self.errors: list[str] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.prepared: PreparedReference | None = None
        self._verify_fn = verify_fn
        self._prepare_fn = prepare_fn
        self.parallelism = max(1, int(parallelism))
        self._lock = threading.RLock()
        self._prepare_lock = threading.Lock()
        self._emit_lock = threading.RLock()
        self._reserved = 0
        """Candidates counted against the budget: verified plus being verified."""
        self._pending: dict[str, Future[CandidateResult]] = {}

    # -- events ---------------------------------------------------------------------------------
    def emit(self, event_type: str, /, **data: Any) -> None:
        if self.on_event is not None:
            with self._emit_lock:  # one event at a time, whichever thread verified
                self.on_event({"type": event_type, **data})

    def error(self, message: str) -> None:
        self.errors.append(message)
        self.emit("error", message=message[:2000])

    # -- budgets --------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def tokens_left(self) -> int | None:
        limit = self.request.budget.max_tokens
        return None if limit is None else max(0, limit - self.tokens)

    def stop_reason(self, need_candidate: bool = False, tokens: bool = True) -> str | None:
        """Why the job must stop now, or None. ``need_candidate``: about to verify one more;
        ``tokens=False``: ignore the token budget (verifying an answer already paid for costs none)."""
        budget = self.request.budget
        if self.cancel.is_set():
            return STOP_CANCELLED
        if budget.max_seconds is not None and self.elapsed >= budget.max_seconds:
            return STOP_TIME
        if need_candidate and max(self._reserved, len(self.candidates)) >= budget.max_candidates:
            return STOP_CANDIDATES
        if tokens and budget.max_tokens is not None and self.tokens >= budget.max_tokens:
            return STOP_TOKENS
        return None

    def check(self, need_candidate: bool = False, tokens: bool = True) -> None:
        reason = self.stop_reason(need_candidate, tokens)
        if reason is not None:
            raise Stop(reason)

    def add_tokens(self, prompt: int, completion: int) -> None:
        with self._lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    # -- verification -----------------------------------------------------------------------------
    def prepare(self) -> PreparedReference:
        with self._prepare_lock:
            if self.prepared is None:
                run = self._prepare_fn or prepare
                self.prepared = run(self.request.reference, self.request.verify_options)
            return self.prepared

    @property
    def device(self) -> str | None:
        return self.prepared.device if self.prepared is not None else None

    def seen(self, source: str) -> CandidateResult | None:
        return self.by_sha.get(sha256_text(source))

    def submit(
        self,
        source: str,
        origin: str,
        *,
        params: dict[str, Any] | None = None,
        parent_sha256: str | None = None,
        tokens: int = 0,
        name: str = "",
    ) -> CandidateResult:
        """Verify ``source`` (once per distinct source) and record it. Raises ``Stop`` when over budget.

        Thread-safe: a source being verified by another thread is waited for, not verified twice."""
        sha = sha256_text(source)
        with self._lock:
            earlier = self.by_sha.get(sha)
            if earlier is not None:
                return earlier
            waiting = self._pending.get(sha)
            if waiting is None:
                self.check(need_candidate=True, tokens=False)
                index = self._reserved
                self._reserved += 1
                mine: Future[CandidateResult] = Future()
                self._pending[sha] = mine
        if waiting is not None:
            return waiting.result()
        try:
            result = self._verify_and_record(source, origin, sha, index, params, parent_sha256, tokens, name)
        except BaseException as e:
            with self._lock:  # nothing was verified: the budget is as it was (as before threads)
                self._reserved -= 1
            mine.set_exception(e)
            raise
        else:
            mine.set_result(result)
            return result
        finally:
            with self._lock:
                self._pending.pop(sha, None)

    def _verify_and_record(
        self,
        source: str,
        origin: str,
        sha: str,
        index: int,
        params: dict[str, Any] | None,
        parent_sha256: str | None,
        tokens: int,
        name: str,
    ) -> CandidateResult:
        prepared = self.prepare()
        name = name or f"{origin.split(':')[0]}-{index + 1}"
        language = self.request.language
        which = {"index": index, "name": name, "origin": origin, "sha256": sha}  # in every event of this candidate
        self.emit("proposed", **which, parent_sha256=parent_sha256, params=params or {})
        cand = Candidate(source=source, name=name, language=language)
        if self._verify_fn is not None:
            report = self._verify_fn(prepared, cand)
        else:
            report = verify(prepared, cand, self.request.verify_options)
        result = CandidateResult(
            source=source,
            language=language,
            origin=origin,
            report=report,
            params=dict(params or {}),
            parent_sha256=parent_sha256,
            tokens=tokens,
            name=name,
        )
        if self.on_candidate is not None:
            self.on_candidate(result)
        with self._lock, self._emit_lock:
            self.candidates.append(result)
            self.by_sha[sha] = result
            self.emit(
                "verified",
                **which,
                verdict=report.verdict,
                reasons=_short(report.reasons),
                speedup=report.speedup,
                duration_s=round(report.duration_s, 3),
            )
            if ranking.better(result, self.best):
                self.best = result
                self.emit("best", **which, speedup=report.speedup)
        return result

    def result(self, stopped_because: str) -> GenerationResult:
        best = ranking.pick_best(self.candidates)
        return GenerationResult(
            best=best if best is not None and best.accepted else None,
            candidates=list(self.candidates),
            stopped_because=stopped_because,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            seconds=self.elapsed,
            errors=list(self.errors),
            proposer=self.request.proposer,
            language=self.request.language,
            task_id=self.request.task_id,
            device=self.device,
        )
