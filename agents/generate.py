"""``generate()``: run one generation job with the requested proposer and return what was verified."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from agents.llm.client import ChatClient
from agents.llm.loop import LLMConfigError, LLMFailed, run_llm
from agents.session import CandidateSink, PrepareFn, Session, Stop, VerifierUnavailable, VerifyFn
from agents.template.propose import run_template
from agents.types import GenerationRequest, GenerationResult
from verifier import VerifierError

log = logging.getLogger(__name__)


def generate(
    request: GenerationRequest,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
    *,
    verify_fn: VerifyFn | None = None,
    prepare_fn: PrepareFn | None = None,
    parallelism: int = 1,
    llm_client: ChatClient | None = None,
    on_candidate: CandidateSink | None = None,
) -> GenerationResult:
    """Propose candidates for ``request.reference``, verify every one, return the result.

    Events (JSON-able dicts with a ``type``) go to ``on_event``: started, note, round, completion,
    proposed, verified (verdict, reasons, speedup), best, error, finished (the result's summary); none
    carries a source or a report. ``on_candidate`` gets each verified ``CandidateResult`` (source and
    report) once, before its ``verified`` event: where a consumer records it. ``cancel`` is checked
    between candidates and LLM calls.
    ``verify_fn``/``prepare_fn``/``llm_client`` replace the verifier calls and the chat client (an
    executor that verifies elsewhere, tests); ``parallelism`` is how many candidates may be verified at
    once (the LLM loop verifies a round's samples concurrently up to it). ``VerifierUnavailable`` from
    the verifier calls is raised, not turned into the job's end: the caller hands the job back.
    """
    session = Session(request, on_event, cancel, verify_fn, prepare_fn, parallelism, on_candidate)
    session.emit(
        "started",
        proposer=request.proposer,
        language=request.language,
        task_id=request.task_id,
        reference=request.reference.name,
        model=(llm_client.model if llm_client else request.model) if request.proposer == "llm" else None,
        budget=asdict(request.budget),
    )
    try:
        stopped = run_template(session) if request.proposer == "template" else run_llm(session, llm_client)
    except Stop as s:
        stopped = s.reason
    except VerifierUnavailable:
        raise
    except (LLMConfigError, LLMFailed, VerifierError) as e:
        session.error(str(e))
        stopped = f"error: {e}"
    except Exception as e:  # a bug here must not lose what was verified; the log keeps the traceback
        log.exception("generation job failed")
        session.error(f"{type(e).__name__}: {e}")
        stopped = f"error: {type(e).__name__}: {e}"
    result = session.result(stopped)
    session.emit("finished", result=result.summary())
    return result
