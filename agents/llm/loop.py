"""The LLM proposer: sample, verify, feed the verifier's findings back, evolve, within the budgets.

Per round, ``samples_per_round`` chat completions run concurrently (one request each: ``n`` is not
supported everywhere); each answer's code is verified as soon as it arrives. Prompts come from
``evolve.plan_round`` (refine the rejected, mutate and cross the best). The template compiler's
kernel, when there is one, is verified first and seeds the population. Budgets are checked between
LLM calls and before each verification; cancellation too. A dead endpoint stops the job with
``error: ...`` naming its URL.
"""

from __future__ import annotations

import functools
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from agents import ranking
from agents.llm import evolve, prompts
from agents.llm.client import ChatClient, Completion, EndpointUnavailable, LLMError
from agents.llm.extract import extract_code
from agents.session import Session, Stop
from agents.template.propose import plan_or_explain, submit_variants
from agents.types import STOP_EXHAUSTED, STOP_TOKENS, CandidateResult
from verifier import PreparedReference, Report


class LLMConfigError(ValueError):
    """The LLM proposer cannot start (no model configured)."""


class LLMFailed(Exception):
    """Every request of a round failed: the job stops with this message."""


def make_client(session: Session) -> ChatClient:
    req = session.request
    if not req.model:
        raise LLMConfigError("no LLM model configured: set KILN_LLM_MODEL or pass a model name")
    return ChatClient(
        req.model,
        base_url=req.base_url,
        timeout_s=req.request_timeout_s,
        max_retries=req.max_retries,
        backoff_s=req.retry_backoff_s,
    )


def hardware_description(prepared: PreparedReference) -> str:
    env = prepared.environment
    if prepared.device == "cuda":
        name = env.get("device_name") or "an NVIDIA GPU"
        versions = ", ".join(f"{k} {env[k]}" for k in ("torch", "triton", "cuda") if env.get(k))
        return f"{name} ({versions}). Kernels are timed against eager PyTorch and torch.compile."
    return (
        "no GPU on the verifying host: Triton kernels run in Triton's CPU interpreter (TRITON_INTERPRET=1) "
        "on CPU tensors, for correctness only (nothing is timed). Write an ordinary Triton GPU kernel."
    )


def task_note(task_id: str | None) -> str:
    """The built-in task's title and description; '' for a submitted or stored reference."""
    import tasks

    task = tasks.find(task_id) if task_id else None
    return "" if task is None else f"Task {task.id}: {task.title}. {task.description}"


def roofline_note(session: Session, report: Report) -> str:
    """'this kernel reaches X% of the roofline floor' for a timed candidate of a task; '' otherwise.

    The share is the pages' (``tasks.roofline_share``): on the profile of the GPU the kernel was timed
    on (an H200's on ``h200``), on a realistic shape; a GPU without a profile gets no note."""
    import tasks

    task_id, timing = session.request.task_id, report.timing
    task = tasks.find(task_id) if task_id else None
    if task is None or timing is None:
        return ""
    share = tasks.roofline_share(task, report.to_dict(), timing.candidate_ms, timing.device_name)
    if share.share is None:
        return ""
    return (
        f"Roofline ({share.hardware}, shape {share.shape}): floor {share.floor_ms:.4f} ms, {share.bound}-bound; "
        f"this kernel reaches {share.share:.1%} of it."
    )


class LLMLoop:
    def __init__(self, session: Session, client: ChatClient) -> None:
        self.session = session
        self.client = client
        self.request = session.request
        self.origin = f"llm:{client.model}"
        self.ctx: prompts.PromptContext | None = None

    def run(self) -> str:
        prepared = self.session.prepare()
        req = self.request
        self.ctx = prompts.PromptContext(
            reference_source=req.reference.source,
            language=req.language,
            hardware=hardware_description(prepared),
            shapes={k: dict(v) for k, v in req.reference.shapes.items()},
            task_note=task_note(req.task_id),
        )
        seed = self._seed(prepared.device)
        if self._done_without_timing():
            return STOP_EXHAUSTED
        last_round: list[CandidateResult] = []
        for round_index in range(req.rounds):
            self.session.check()
            if round_index == 0:
                jobs = evolve.first_round(req.samples_per_round, seed)
            else:
                jobs = evolve.plan_round(req.samples_per_round, self.session.candidates, last_round)
            last_round = self._round(round_index + 1, jobs)
            if self._done_without_timing():
                return STOP_EXHAUSTED
        return STOP_EXHAUSTED

    def _done_without_timing(self) -> bool:
        """On a CPU nothing is timed, so after an accepted kernel nothing can rank above it."""
        if self.request.search_without_timing or self.session.device == "cuda":
            return False
        return self.session.best is not None

    def _seed(self, device: str) -> CandidateResult | None:
        if not self.request.seed_with_template or self.request.language != "triton":
            return None
        planned = plan_or_explain(self.session)
        if isinstance(planned, str):
            self.session.emit("note", message=f"no template seed ({planned})"[:500])
            return None
        results = submit_variants(self.session, planned, limit=None if device == "cuda" else 1)
        return ranking.pick_best(results) or (results[0] if results else None)

    def _messages(self, job: evolve.Job) -> list[dict[str, str]]:
        assert self.ctx is not None
        note = roofline_note
        if job.kind == "refine":
            p = job.parents[0]
            return prompts.refine(self.ctx, p.source, p.report, note(self.session, p.report))
        if job.kind == "improve":
            p = job.parents[0]
            return prompts.improve(self.ctx, p.source, p.report, note(self.session, p.report))
        if job.kind == "crossover":
            a, b = job.parents
            return prompts.crossover(
                self.ctx,
                (a.source, a.report),
                (b.source, b.report),
                (note(self.session, a.report), note(self.session, b.report)),
            )
        return prompts.initial(self.ctx)

    def _round(self, round_no: int, jobs: list[evolve.Job]) -> list[CandidateResult]:
        session = self.session
        left = session.tokens_left()
        if left == 0:
            raise Stop(STOP_TOKENS)
        cap = self.request.max_completion_tokens
        max_tokens = cap if left is None else min(cap, left)
        session.emit("round", round=round_no, jobs=[j.kind for j in jobs])
        results: list[CandidateResult] = []
        failures: list[LLMError] = []
        pool = ThreadPoolExecutor(max_workers=min(len(jobs), 8), thread_name_prefix="kiln-llm")
        futures: dict[Future[Completion], tuple[int, evolve.Job]] = {}
        # the round's samples are verified concurrently when the executor can (a cluster), else in turn
        verifying: list[Future[CandidateResult]] = []
        verify_pool = (
            ThreadPoolExecutor(max_workers=session.parallelism, thread_name_prefix="kiln-verify")
            if session.parallelism > 1
            else None
        )
        try:
            for k, job in enumerate(jobs):
                fut = pool.submit(
                    self.client.complete,
                    self._messages(job),
                    temperature=self.request.temperature,
                    max_tokens=max(1, max_tokens),
                    cancel=session.cancel,
                )
                futures[fut] = (k + 1, job)
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                session.check(tokens=False)  # cancellation and the time budget, while answers are awaited
                for fut in done:
                    sample, job = futures[fut]
                    outcome = self._take(fut, round_no, sample, job, failures, verify_pool)
                    if isinstance(outcome, Future):
                        verifying.append(outcome)
                    elif outcome is not None:
                        results.append(outcome)
            results += _gather(verifying)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            if verify_pool is not None:  # what started finishes (and is recorded); what did not, does not start
                verify_pool.shutdown(wait=True, cancel_futures=True)
        if failures and len(failures) == len(jobs):
            dead = [f for f in failures if isinstance(f, EndpointUnavailable)]
            raise LLMFailed(str((dead or failures)[0]))
        return results

    def _take(
        self,
        fut: Future[Completion],
        round_no: int,
        sample: int,
        job: evolve.Job,
        failures: list[LLMError],
        verify_pool: ThreadPoolExecutor | None = None,
    ) -> CandidateResult | Future[CandidateResult] | None:
        session = self.session
        try:
            completion = fut.result()
        except LLMError as e:
            failures.append(e)
            if str(e) != "cancelled":
                session.error(f"round {round_no}, sample {sample}: {e}")
            return None
        session.add_tokens(completion.prompt_tokens, completion.completion_tokens)
        session.emit(
            "completion",
            round=round_no,
            sample=sample,
            kind=job.kind,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
        )
        code = extract_code(completion.text)
        if code is None:
            session.error(f"round {round_no}, sample {sample}: the answer holds no code")
            return None
        params: dict[str, Any] = {
            "round": round_no,
            "sample": sample,
            "kind": job.kind,
            "parents": [p.sha256 for p in job.parents],
        }
        if completion.finish_reason:
            params["finish_reason"] = completion.finish_reason
        submit = functools.partial(
            session.submit,
            code,
            self.origin,
            params=params,
            parent_sha256=job.parent_sha256,
            tokens=completion.completion_tokens,
            name=f"llm-r{round_no}s{sample}",
        )
        return submit() if verify_pool is None else verify_pool.submit(submit)


def _gather(verifying: list[Future[CandidateResult]]) -> list[CandidateResult]:
    """Every concurrent verification's result once all have ended; the first failure (``Stop`` when the
    budget ran out meanwhile) is raised after the others were recorded."""
    results: list[CandidateResult] = []
    first: BaseException | None = None
    for fut in verifying:
        try:
            results.append(fut.result())
        except BaseException as e:
            first = first or e
    if first is not None:
        raise first
    return results


def run_llm(session: Session, client: ChatClient | None = None) -> str:
    return LLMLoop(session, client or make_client(session)).run()
