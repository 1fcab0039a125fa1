"""The LLM loop against a scripted OpenAI-compatible server over real HTTP (real ``openai`` client).

The reference is the bundled ConvNeXt 7x7 depthwise op; the scripted answers are a syntax error, a
compile (runtime) error, a cheat (torch fallback), a slow correct kernel and a better one.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

import agents
from agents.llm.tokens import estimate_messages
from tests.agents import candidates as C
from tests.agents.fake_llm import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    FakeLLM,
    closed_port_url,
    fenced,
    last_user_message,
)
from verifier import Reference, VerifyOptions
from verifier.examples import REFERENCE

pytestmark = pytest.mark.serial  # wall-clock bounds: runs alone (Makefile)

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=120)


def _reference() -> Reference:
    return Reference.from_file(REFERENCE)


def _request(base_url: str, **overrides: Any) -> agents.GenerationRequest:
    fields: dict[str, Any] = {
        "reference": _reference(),
        "proposer": "llm",
        "model": "scripted-model",
        "base_url": base_url,
        "verify_options": OPTIONS,
        "seed_with_template": False,
        "samples_per_round": 1,
        "rounds": 1,
        "retry_backoff_s": 0.05,
        "max_retries": 1,
        "request_timeout_s": 30,
    }
    fields.update(overrides)
    return agents.GenerationRequest(**fields)


def _numbered_syntax_error(index: int) -> str:
    return fenced(C.SYNTAX_ERROR + f"\n# answer {index}\n")


def _by_source(result: agents.GenerationResult) -> dict[str, agents.CandidateResult]:
    return {c.source.strip(): c for c in result.candidates}


def test_loop_refines_rejected_candidates_and_never_returns_the_cheat() -> None:
    first_round = [C.SYNTAX_ERROR, C.CHEAT, C.COMPILE_ERROR]

    def script(body: dict[str, Any], index: int) -> tuple[int, str]:
        assistant = " ".join(m["content"] for m in body["messages"] if m["role"] == "assistant")
        if "Fix the module" not in last_user_message(body):
            return 200, fenced(first_round[index % 3])
        if "F.conv2d" in assistant:
            return 200, fenced(C.BETTER)
        return 200, fenced(C.SLOW)  # for the syntax error and the compile error alike: verified once

    events: list[dict[str, Any]] = []
    with FakeLLM(script) as server:
        request = _request(server.base_url, samples_per_round=3, rounds=2)
        result = agents.generate(request, on_event=events.append)

    assert result.stopped_because == "exhausted", result.errors
    got = _by_source(result)
    assert len(result.candidates) == 5  # the duplicate SLOW answer was verified once
    syntax, cheat, compile_error = (got[s.strip()] for s in first_round)
    slow, better = got[C.SLOW.strip()], got[C.BETTER.strip()]
    assert syntax.report.verdict == "rejected" and "syntax error" in " ".join(syntax.report.reasons)
    assert cheat.report.verdict == "rejected"
    assert any(c.name == "no_fallback" and not c.passed for c in cheat.report.checks), cheat.report.reasons
    assert compile_error.report.verdict == "rejected"
    assert "w_undefined" in " ".join(compile_error.report.reasons) + compile_error.report.logs.get("stderr", "")
    assert slow.report.verdict == "accepted" and better.report.verdict == "accepted"

    # Best: accepted, never the cheat; on a CPU (no timing) the first accepted one is kept.
    assert result.best is not None and result.best.accepted and result.best.source != cheat.source
    first_accepted = next(c for c in result.candidates if c.accepted)
    assert result.best is first_accepted

    # Refinement prompts carried the verifier's findings for the broken candidates.
    refines = [b for b in server.requests if "Fix the module" in last_user_message(b)]
    assert len(refines) == 3
    syntax_prompt = next(b for b in refines if "missing colon" in json.dumps(b["messages"]))
    assert syntax.report.reasons[0] in last_user_message(syntax_prompt)
    cheat_prompt = next(b for b in refines if "F.conv2d" in json.dumps(b["messages"]))
    assert cheat.report.reasons[0] in last_user_message(cheat_prompt)

    # Lineage and parameters.
    assert better.parent_sha256 == cheat.sha256
    assert better.params["kind"] == "refine" and better.params["round"] == 2
    assert slow.parent_sha256 in (syntax.sha256, compile_error.sha256)
    assert all(c.origin == "llm:scripted-model" for c in result.candidates)

    # Token accounting from the server's usage; every request went to /v1/chat/completions.
    assert len(server.requests) == 6
    assert set(server.paths) == {"/v1/chat/completions"}
    assert result.prompt_tokens == 6 * PROMPT_TOKENS and result.completion_tokens == 6 * COMPLETION_TOKENS

    types = [e["type"] for e in events]
    assert types[0] == "started" and types[-1] == "finished"
    assert types.count("verified") == 5 and "best" in types
    json.dumps(events)
    assert events[-1]["result"]["best_sha256"] == result.best.sha256


def test_candidate_budget_stops_the_loop() -> None:
    with FakeLLM(lambda body, i: (200, _numbered_syntax_error(i))) as server:
        result = agents.generate(
            _request(server.base_url, samples_per_round=2, rounds=5, budget=agents.Budget(max_candidates=3))
        )
    assert result.stopped_because == "budget: candidates"
    assert len(result.candidates) == 3
    assert len(server.requests) == 4  # the second round was asked for, its last answer not verified


def test_token_budget_stops_the_loop() -> None:
    per_call = PROMPT_TOKENS + COMPLETION_TOKENS
    with FakeLLM(lambda body, i: (200, _numbered_syntax_error(i))) as server:
        # the first prompt (estimated before sending) and a completion of at least 256 tokens fit the budget
        budget = estimate_messages(_initial_messages()) + 600
        result = agents.generate(_request(server.base_url, rounds=10, budget=agents.Budget(max_tokens=budget)))
    assert result.stopped_because == "budget: tokens"
    assert len(server.requests) == 1 and len(result.candidates) == 1
    assert result.prompt_tokens + result.completion_tokens == per_call  # settled from the server's usage
    # the per-call completion cap never exceeds what is left of the budget after the prompt
    assert all(estimate_messages(b["messages"]) + b["max_tokens"] <= budget for b in server.requests)


def _initial_messages() -> list[dict[str, str]]:
    from agents.llm import prompts

    ctx = prompts.PromptContext(_reference().source, "triton", "")
    return prompts.initial(ctx)


def test_time_budget_stops_the_loop() -> None:
    started = time.monotonic()
    with FakeLLM(lambda body, i: (200, _numbered_syntax_error(i)), delay_s=1.0) as server:
        result = agents.generate(_request(server.base_url, rounds=50, budget=agents.Budget(max_seconds=3.0)))
    assert result.stopped_because == "budget: time"
    assert len(server.requests) <= 3
    assert time.monotonic() - started < 20


def test_cancellation_between_candidates() -> None:
    cancel = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "verified":
            cancel.set()

    with FakeLLM(lambda body, i: (200, _numbered_syntax_error(i))) as server:
        result = agents.generate(_request(server.base_url, rounds=5), on_event=on_event, cancel=cancel)
    assert result.stopped_because == "cancelled"
    assert len(result.candidates) == 1 and len(server.requests) == 1


def test_unreachable_endpoint_is_a_clear_error_quickly() -> None:
    url = closed_port_url()
    started = time.monotonic()
    result = agents.generate(_request(url, rounds=3))
    assert time.monotonic() - started < 30
    assert result.stopped_because.startswith("error:")
    assert url in result.stopped_because and "unreachable" in result.stopped_because
    assert "Traceback" not in result.stopped_because
    assert result.best is None and result.candidates == []
    assert result.errors and url in result.errors[-1]


def test_server_errors_are_retried_with_backoff() -> None:
    def script(body: dict[str, Any], index: int) -> tuple[int, str]:
        return (500, "overloaded") if index < 2 else (200, _numbered_syntax_error(index))

    with FakeLLM(script) as server:
        result = agents.generate(_request(server.base_url, max_retries=3))
    assert len(server.requests) == 3
    assert len(result.candidates) == 1
    assert result.errors == [] and result.stopped_because == "exhausted"
    assert result.prompt_tokens == PROMPT_TOKENS  # failed attempts carry no usage


def test_client_error_is_not_retried() -> None:
    with FakeLLM(lambda body, i: (404, "model 'scripted-model' not found")) as server:
        result = agents.generate(_request(server.base_url, max_retries=3))
    assert len(server.requests) == 1
    assert result.stopped_because.startswith("error:") and "404" in result.stopped_because
    assert "not found" in result.stopped_because


def test_the_template_kernel_is_offered_and_the_llm_still_asked_on_cpu() -> None:
    with FakeLLM(lambda body, i: (200, fenced(C.BETTER))) as server:
        result = agents.generate(_request(server.base_url, seed_with_template=True, rounds=2))
    assert result.candidates[0].origin == "template" and result.candidates[0].accepted
    assert len(server.requests) == 1  # one round: on a CPU nothing ranks a kernel above the accepted seed
    asked = last_user_message(server.requests[0])
    seed = result.candidates[0].source.strip()
    assert "starting point" in asked and any(seed in m["content"] for m in server.requests[0]["messages"])
    assert result.candidates[1].params["kind"] == "improve" and result.candidates[1].accepted
    assert result.best is not None and result.best.origin == "template"  # the first accepted, on a CPU
    assert result.stopped_because == "exhausted"


def test_llm_without_a_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_LLM_MODEL", raising=False)
    result = agents.generate(_request("http://127.0.0.1:9/v1", model=None))
    assert result.stopped_because.startswith("error: no LLM model configured")
    assert result.candidates == []
