"""The LLM proposer: sample, verify, feed the verifier's findings back, evolve, within the budgets.

Per round, ``samples_per_round`` chat completions run concurrently, each on a daemon thread (one
request each: ``n`` is not supported everywhere); each answer's code is verified as soon as it
arrives. Prompts come from ``evolve.plan_round`` (refine the rejected, retry the unusable, mutate and
cross the best). The template compiler's kernel, when there is one and ``seed_with_template`` is on,
is verified first and offered to the model; at least one LLM round runs either way.

An answer is verified only when ``extract`` finds a module in it; an answer cut off at the length
limit gets up to ``MAX_CONTINUATIONS`` continuation requests first. An answer the loop cannot use is
not verified: the next round tells the model why (``prompts.retry``). Tokens are reserved before
each request (estimated prompt plus the completion limit) and settled from ``usage`` or the estimate.
Every request is bounded by the time budget and dropped at cancellation. A round whose requests all
failed is tried again while the time budget lasts (a refusal ends the job, and so does an endpoint
where nothing ever listened, after its rounds), with ``error: ...`` naming the URL.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agents import ranking
from agents.llm import evolve, prompts
from agents.llm.client import Cancelled, ChatClient, Completion, EndpointUnavailable, LLMError
from agents.llm.extract import extract
from agents.llm.tokens import estimate_messages
from agents.session import Session, Stop
from agents.template.propose import plan_or_explain, submit_variants
from agents.types import STOP_EXHAUSTED, STOP_TOKENS, CandidateResult
from verifier import PreparedReference, Report


class LLMConfigError(ValueError):
    """The LLM proposer cannot start (no model configured)."""


class LLMFailed(Exception):
    """The endpoint refused the requests (bad model, bad key), or nothing ever answered: the job stops."""


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
        stream=req.stream,
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


class TokensSpent(Cancelled):
    """A request was not sent: the token budget leaves less than ``MIN_COMPLETION_TOKENS`` for its answer."""


MIN_COMPLETION_TOKENS = 256
"""A request is not sent when the token budget leaves less than this for its answer."""
MAX_CONTINUATIONS = 2
"""Follow-up requests for an answer cut off at the length limit."""
MAX_FAILED_ROUND_WAIT_S = 60.0


@dataclass
class Answer:
    """What one sample's requests produced (the answer text joined over continuations)."""

    job: evolve.Job
    sample: int
    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0
    continuations: int = 0
    error: LLMError | None = None


@dataclass
class RoundOutcome:
    results: list[CandidateResult] = field(default_factory=list)
    answered: int = 0
    failures: list[LLMError] = field(default_factory=list)
    unusable: list[evolve.Unusable] = field(default_factory=list)


class LLMLoop:
    def __init__(self, session: Session, client: ChatClient) -> None:
        self.session = session
        self.client = client
        self.request = session.request
        self.origin = f"llm:{client.model}"
        self.ctx: prompts.PromptContext | None = None
        self.unverified: list[tuple[int, int, str, str]] = []
        """(round, sample, kind, problem) of every answer the loop refused before verifying it."""
        self._token_lock = threading.Lock()
        self._reserved_tokens = 0
        self._answered = 0
        self._last_failure: LLMError | None = None

    def run(self) -> str:
        prepared = self.session.prepare()
        req = self.request
        self.ctx = prompts.PromptContext(
            reference_source=req.reference.source,
            language=req.language,
            hardware=hardware_description(prepared),
            shapes={k: dict(v) for k, v in req.reference.shapes.items()},
            task_note=task_note(req.task_id),
            mode=req.verify_options.mode,
        )
        seed = self._seed(prepared.device)
        last: RoundOutcome | None = None
        rounds_done = failed_streak = 0
        while rounds_done < req.rounds:  # the user asked for the LLM: at least one round, seed or not
            self.session.check()
            round_no = rounds_done + 1  # a round tried again after every request failed keeps its number
            if last is None:
                jobs = evolve.first_round(req.samples_per_round, seed)
            else:
                jobs = evolve.plan_round(
                    req.samples_per_round, self.session.candidates, last.results, unusable=last.unusable
                )
            outcome = self._round(round_no, jobs)
            if outcome.answered == 0 and outcome.failures:
                failed_streak += 1
                if self._failed_round_counts(outcome):
                    rounds_done += 1
                asked = [f.retry_after for f in outcome.failures if isinstance(f, EndpointUnavailable)]
                self._wait_after_failed_round(failed_streak, max(asked, default=0.0))
                continue
            failed_streak = 0
            rounds_done += 1
            last = outcome
            if self._done_without_timing():
                return STOP_EXHAUSTED
        if self._answered == 0 and last is None and self._last_failure is not None:
            raise LLMFailed(str(self._last_failure))
        return STOP_EXHAUSTED

    def _failed_round_counts(self, outcome: RoundOutcome) -> bool:
        """A round where every request failed: a refusal ends the job; one that nothing answered
        (connection refused, or no time budget to wait within) uses up a round; a transient failure
        (rate limit, overload, timeout) with time left is retried without using one."""
        self._last_failure = outcome.failures[0]
        if all(isinstance(f, TokensSpent) for f in outcome.failures):
            raise Stop(STOP_TOKENS)
        hard = [f for f in outcome.failures if not isinstance(f, EndpointUnavailable | Cancelled)]
        if hard:
            raise LLMFailed(str(hard[0]))
        dead = [f for f in outcome.failures if isinstance(f, EndpointUnavailable) and f.refused]
        if dead:
            self._last_failure = dead[0]
            return True
        return self.request.budget.max_seconds is None

    def _wait_after_failed_round(self, streak: int, retry_after: float = 0.0) -> None:
        """Back off before the round is tried again: exponentially, or as long as the server asked,
        never past the time budget (at the budget's end the next ``check`` stops the job)."""
        delay = max(retry_after, min(MAX_FAILED_ROUND_WAIT_S, self.request.retry_backoff_s * (2 ** min(streak, 10))))
        deadline = self._deadline()
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        self.session.cancel.wait(delay)

    def _deadline(self) -> float | None:
        limit = self.request.budget.max_seconds
        return None if limit is None else self.session.started + limit

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

    def _history(self) -> str:
        """This job's attempts (verified candidates and refused answers), oldest first."""
        rows: list[tuple[int, int, prompts.Attempt]] = []
        for c in self.session.candidates:
            why = c.report.reasons[0] if c.report.reasons else ""
            attempt = prompts.Attempt(c.name, str(c.params.get("kind", c.origin)), c.report.verdict, why)
            rows.append((int(c.params.get("round", 0)), int(c.params.get("sample", 0)), attempt))
        for round_no, sample, kind, problem in self.unverified:
            rows.append((round_no, sample, prompts.Attempt(f"llm-r{round_no}s{sample}", kind, "unusable", problem)))
        rows.sort(key=lambda r: (r[0], r[1]))
        return prompts.history([a for _, _, a in rows])

    def _messages(self, job: evolve.Job) -> list[dict[str, str]]:
        assert self.ctx is not None
        note = roofline_note
        past = self._history()
        if job.kind == "refine":
            p = job.parents[0]
            return prompts.refine(self.ctx, p.source, p.report, note(self.session, p.report), past)
        if job.kind == "improve":
            p = job.parents[0]
            seed = p.origin == "template"
            return prompts.improve(self.ctx, p.source, p.report, note(self.session, p.report), past, seed)
        if job.kind == "retry":
            return prompts.retry(self.ctx, job.answer, job.problem, past)
        if job.kind == "crossover":
            a, b = job.parents
            return prompts.crossover(
                self.ctx,
                (a.source, a.report),
                (b.source, b.report),
                (note(self.session, a.report), note(self.session, b.report)),
            )
        return prompts.initial(self.ctx)

    # -- tokens ---------------------------------------------------------------------------------
    def _reserve(self, prompt_tokens: int, want: int) -> int | None:
        """Reserve ``prompt_tokens`` and up to ``want`` completion tokens of the budget; the completion
        tokens granted, or None when less than ``MIN_COMPLETION_TOKENS`` would be left for the answer."""
        with self._token_lock:
            left = self.session.tokens_left()
            if left is None:
                return want
            free = left - self._reserved_tokens - prompt_tokens
            if free < min(want, MIN_COMPLETION_TOKENS):
                return None
            grant = min(want, free)
            self._reserved_tokens += prompt_tokens + grant
            return grant

    def _settle(self, reserved: int, completion: Completion) -> None:
        """Replace a reservation by what the request cost (the server's usage, or the estimate)."""
        with self._token_lock:
            self._reserved_tokens -= reserved
            self.session.add_tokens(completion.prompt_tokens, completion.completion_tokens)

    # -- one round ------------------------------------------------------------------------------
    def _round(self, round_no: int, jobs: list[evolve.Job]) -> RoundOutcome:
        session = self.session
        cap = self.request.max_completion_tokens
        planned = [(job, self._messages(job)) for job in jobs]
        left = session.tokens_left()
        if left is not None:
            prompts_total = sum(estimate_messages(m) for _, m in planned)
            share = (left - prompts_total) // max(1, len(planned))
            want = max(MIN_COMPLETION_TOKENS, min(cap, share))
            if left - estimate_messages(planned[0][1]) < MIN_COMPLETION_TOKENS:
                raise Stop(STOP_TOKENS)
        else:
            want = cap
        session.emit("round", round=round_no, jobs=[j.kind for j in jobs])
        outcome = RoundOutcome()
        answers: queue.Queue[Answer] = queue.Queue()
        stop_requests = threading.Event()
        _follow_cancel(session.cancel, stop_requests)
        started = 0
        for k, (job, messages) in enumerate(planned):
            threading.Thread(
                target=self._ask,
                args=(round_no, k + 1, job, messages, want, stop_requests, answers),
                name=f"kiln-llm-r{round_no}s{k + 1}",
                daemon=True,  # a request left behind at the budget's end never keeps the process alive
            ).start()
            started += 1
        # the round's samples are verified concurrently when the executor can (a cluster), else in turn
        verifying: list[Future[CandidateResult]] = []
        verify_pool = (
            ThreadPoolExecutor(max_workers=session.parallelism, thread_name_prefix="kiln-verify")
            if session.parallelism > 1
            else None
        )
        try:
            pending = started
            while pending:
                try:
                    answer = answers.get(timeout=0.25)
                except queue.Empty:
                    session.check(tokens=False)  # cancellation and the time budget, while answers are awaited
                    continue
                pending -= 1
                outcome_item = self._take(round_no, answer, outcome, verify_pool)
                if isinstance(outcome_item, Future):
                    verifying.append(outcome_item)
                elif outcome_item is not None:
                    outcome.results.append(outcome_item)
            outcome.results += _gather(verifying)
        finally:
            stop_requests.set()
            if verify_pool is not None:  # what started finishes (and is recorded); what did not, does not start
                verify_pool.shutdown(wait=True, cancel_futures=True)
        return outcome

    def _ask(
        self,
        round_no: int,
        sample: int,
        job: evolve.Job,
        messages: list[dict[str, str]],
        want: int,
        stop: threading.Event,
        out: queue.Queue[Answer],
    ) -> None:
        """One sample: the request, and continuations while the answer is cut off without a complete
        module (each within the token budget). Runs on its own daemon thread."""
        answer = Answer(job, sample)
        try:
            while True:
                prompt_estimate = estimate_messages(messages)
                grant = self._reserve(prompt_estimate, want)
                if grant is None:
                    if answer.continuations == 0 and not answer.text:
                        answer.error = TokensSpent("the token budget leaves too little for this request")
                    break
                try:
                    completion = self.client.complete(
                        messages,
                        temperature=self.request.temperature,
                        max_tokens=max(1, grant),
                        cancel=stop,
                        deadline=self._deadline(),
                    )
                except BaseException:
                    with self._token_lock:
                        self._reserved_tokens -= prompt_estimate + grant
                    raise
                self._settle(prompt_estimate + grant, completion)
                self.session.emit(
                    "completion",
                    round=round_no,
                    sample=sample,
                    kind=job.kind,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    finish_reason=completion.finish_reason,
                    estimated=completion.estimated,
                    continuation=answer.continuations,
                )
                answer.text += completion.text
                answer.reasoning += completion.reasoning
                answer.finish_reason = completion.finish_reason
                answer.completion_tokens += completion.completion_tokens
                if not completion.truncated or extract(answer.text).complete:
                    break
                if answer.continuations >= MAX_CONTINUATIONS or stop.is_set():
                    break
                answer.continuations += 1
                messages = prompts.continuation(messages, answer.text)
        except LLMError as e:
            answer.error = e
        except Exception as e:  # never lose the thread's answer slot: the round waits for every sample
            answer.error = LLMError(f"{type(e).__name__}: {e}")
        out.put(answer)

    def _take(
        self,
        round_no: int,
        answer: Answer,
        outcome: RoundOutcome,
        verify_pool: ThreadPoolExecutor | None = None,
    ) -> CandidateResult | Future[CandidateResult] | None:
        session, job, sample = self.session, answer.job, answer.sample
        if answer.error is not None and not answer.text:
            outcome.failures.append(answer.error)
            if not isinstance(answer.error, Cancelled):
                session.error(f"round {round_no}, sample {sample}: {answer.error}")
            return None
        outcome.answered += 1
        self._answered += 1
        found = extract(answer.text)
        if not found.complete and answer.reasoning:
            from_reasoning = extract(answer.reasoning)  # some stacks put the whole answer in the reasoning
            if from_reasoning.complete:
                found = from_reasoning
        problem = ""
        if answer.finish_reason == "length" and not found.complete:
            problem = (
                f"your answer was cut off at the length limit ({answer.completion_tokens} tokens"
                + (f", {answer.continuations} continuation(s)" if answer.continuations else "")
                + ") before the module was complete; write a shorter module"
            )
        elif found.code is None:
            problem = found.problem
        if problem:
            outcome.unusable.append(evolve.Unusable(answer.text, problem))
            self.unverified.append((round_no, sample, job.kind, problem))
            session.emit("note", message=f"round {round_no}, sample {sample}: not verified: {problem}"[:500])
            return None
        params: dict[str, Any] = {
            "round": round_no,
            "sample": sample,
            "kind": job.kind,
            "parents": [p.sha256 for p in job.parents],
        }
        if answer.finish_reason:
            params["finish_reason"] = answer.finish_reason
        if answer.continuations:
            params["continuations"] = answer.continuations
        submit = functools.partial(
            session.submit,
            found.code or "",
            self.origin,
            params=params,
            parent_sha256=job.parent_sha256,
            tokens=answer.completion_tokens,
            name=f"llm-r{round_no}s{sample}",
        )
        return submit() if verify_pool is None else verify_pool.submit(submit)


def _follow_cancel(cancel: threading.Event, stop: threading.Event) -> None:
    """Set ``stop`` (what a round's requests watch) when the job is cancelled, until the round ends."""

    def watch() -> None:
        while not stop.is_set():
            if cancel.wait(0.1):
                stop.set()

    threading.Thread(target=watch, daemon=True, name="kiln-llm-cancel").start()


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
