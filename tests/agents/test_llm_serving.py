"""The LLM loop against every answer shape and serving-stack rule the scripted server replays.

Each test runs ``agents.generate`` with ``--no-template-seed`` against ``FakeLLM`` over real HTTP (real
``openai`` client) on the bundled ConvNeXt 7x7 depthwise op; an answer that holds the honest kernel in
any of the shapes must be accepted in the first round.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import agents
from agents.llm import prompts
from agents.llm.tokens import estimate_messages
from tests.agents import candidates as C
from tests.agents.fake_llm import STREAM_ONLY, FakeLLM, Reply, fenced, last_user_message
from tests.agents.test_llm_loop import _request
from verifier import VerifyOptions, prepare
from verifier.examples import REFERENCE

pytestmark = pytest.mark.serial  # wall-clock bounds (Retry-After, time budgets): runs alone (Makefile)

HONEST = C.HONEST.strip() + "\n"


def _accepted_first_round(script: Any, **overrides: Any) -> tuple[agents.GenerationResult, FakeLLM]:
    with FakeLLM(script) as server:
        result = agents.generate(_request(server.base_url, **overrides))
    assert result.best is not None, (result.errors, [c.report.reasons for c in result.candidates])
    assert result.best.source == HONEST and result.best.params["round"] == 1
    assert [c.source for c in result.candidates] == [HONEST]  # nothing else was verified
    return result, server


def test_content_as_a_list_of_text_parts() -> None:
    parts = [{"type": "text", "text": "Here is the kernel.\n\n```python\n"}, {"type": "text", "text": HONEST + "```"}]
    _accepted_first_round(lambda body, i: Reply(content=parts))


def test_reasoning_content_is_kept_apart_and_counted() -> None:
    draft = "```python\nclass ModelNew(nn.Module):\n    pass  # a draft\n```"
    reply = Reply(content=fenced(HONEST), reasoning_content="Let me think.\n" + draft * 20, usage=False)
    result, _ = _accepted_first_round(lambda body, i: reply)
    assert result.completion_tokens > len(draft * 20) // 4  # the reasoning was counted without usage


def test_an_answer_only_in_the_reasoning_field() -> None:
    _accepted_first_round(lambda body, i: Reply(content="", reasoning=fenced(HONEST)))


def test_think_section_with_an_inline_fence() -> None:
    think = "<think>I could show ```python usage in a docstring; no. class ModelNew first.</think>\n"
    _accepted_first_round(lambda body, i: (200, think + "The module:\n" + fenced(HONEST)))


def test_several_blocks_with_an_excerpt_after_the_full_module() -> None:
    excerpt = HONEST[HONEST.index("class ModelNew") :]
    answer = fenced(HONEST) + "\nThe part that matters:\n```python\n" + excerpt + "```\n"
    _accepted_first_round(lambda body, i: (200, answer))


@pytest.mark.parametrize("shape", ["tilde", "indented"])
def test_tilde_and_indented_fences(shape: str) -> None:
    if shape == "tilde":
        answer = "~~~python\n" + HONEST + "~~~\n"
    else:
        body = "".join(f"    {line}\n" if line else "\n" for line in HONEST.splitlines())
        answer = "1. The module:\n\n    ```python\n" + body + "    ```\n"
    _accepted_first_round(lambda body, i: (200, answer))


def test_a_truncated_answer_is_continued_not_verified() -> None:
    cut = len(HONEST) // 2
    first, rest = fenced(HONEST)[: cut + 40], fenced(HONEST)[cut + 40 :]

    def script(body: dict[str, Any], index: int) -> Reply:
        if index == 0:
            return Reply(content=first, finish_reason="length")
        return Reply(content=rest)

    _, server = _accepted_first_round(script)
    assert len(server.requests) == 2
    follow_up = server.requests[1]["messages"]
    assert follow_up[-2] == {"role": "assistant", "content": first}
    assert follow_up[-1]["content"] == prompts.CONTINUE


def test_an_answer_still_cut_off_is_not_verified_and_the_model_is_told() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        if "cut off" in last_user_message(body) and "not verified" in last_user_message(body):
            return Reply(content=fenced(HONEST))
        return Reply(content=fenced(HONEST)[:300], finish_reason="length")

    with FakeLLM(script) as server:
        result = agents.generate(_request(server.base_url, rounds=2))
    assert result.best is not None and result.best.source == HONEST
    assert [c.source for c in result.candidates] == [HONEST]  # no fragment was verified
    retry = server.requests[-1]
    assert "could not use your previous answer" in last_user_message(retry)
    assert "llm-r1s1 (initial): not verified" in last_user_message(retry)


def test_retry_after_is_honoured() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        if index == 0:
            return Reply(status=429, content="rate limited", headers={"Retry-After": "2"})
        return Reply(content=fenced(HONEST))

    stamps: list[float] = []

    def stamped(body: dict[str, Any], index: int) -> Reply:
        stamps.append(time.monotonic())
        return script(body, index)

    _accepted_first_round(stamped, budget=agents.Budget(max_seconds=60))
    assert stamps[1] - stamps[0] >= 1.9


def test_a_rate_limit_outlasting_the_retries_does_not_end_the_job() -> None:
    stamps: list[float] = []

    def script(body: dict[str, Any], index: int) -> Reply:
        stamps.append(time.monotonic())
        if index < 3:
            return Reply(status=429, content="rate limited", headers={"Retry-After": "1"})
        return Reply(content=fenced(HONEST))

    result, server = _accepted_first_round(script, budget=agents.Budget(max_seconds=120))
    assert len(server.requests) == 4 and result.stopped_because == "exhausted"
    # within the request (the client's retry) and between the failed round and its second try
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(stamps))


def test_a_429_for_an_exhausted_quota_ends_the_job_at_once() -> None:
    quota = Reply(status=429, content="You exceeded your current quota.", error_code="insufficient_quota")
    with FakeLLM(lambda body, i: quota) as server:
        result = agents.generate(_request(server.base_url, max_retries=3, budget=agents.Budget(max_seconds=120)))
    assert len(server.requests) == 1
    assert result.stopped_because.startswith("error:") and "429" in result.stopped_because
    assert "quota" in result.stopped_because


def _prepared_once(request: agents.GenerationRequest) -> Any:
    """A ``prepare_fn`` for a reference prepared before the job starts (its run is not the budget under test)."""
    import openai  # noqa: F401  (and the client's import: neither is what the budget tests)

    prepared = prepare(request.reference, request.verify_options)
    return lambda reference, options: prepared


def test_retry_after_beyond_the_time_budget_ends_the_job_at_the_budget() -> None:
    budget = 4.0
    with FakeLLM(lambda body, i: Reply(status=429, content="slow down", headers={"Retry-After": "60"})) as server:
        request = _request(server.base_url, max_retries=5, budget=agents.Budget(max_seconds=budget))
        result = agents.generate(request, prepare_fn=_prepared_once(request))
    assert result.stopped_because == "budget: time"
    assert len(server.requests) == 1  # waited for the server as asked, up to the budget's end
    assert budget <= result.seconds < budget + 1.0


CHILD = """
import atexit, json, sys, time
import agents, openai  # imported before the budget starts: under load an import can take seconds
from tests.agents.test_llm_serving import _prepared_once, _request
request = _request(sys.argv[1], budget=agents.Budget(max_seconds=float(sys.argv[2])))
prepared = _prepared_once(request)
t0 = time.monotonic()
result = agents.generate(request, prepare_fn=prepared)
print(json.dumps({"t0": t0, "seconds": result.seconds, "stopped": result.stopped_because}), flush=True)
# registered last, run first: once the interpreter has joined every thread that keeps it alive
atexit.register(lambda: print(json.dumps({"threads_joined": time.monotonic()}), flush=True))
"""


def test_the_time_budget_ends_the_process_with_a_request_in_flight() -> None:
    """A stalled request is dropped at the budget's end: the job returns then, and no thread keeps the
    process waiting for the request's own timeout (what is left of its exit is the libraries' cleanup)."""
    budget = 4.0
    root = Path(__file__).resolve().parents[2]
    with FakeLLM(lambda body, i: (200, fenced(HONEST)), delay_s=40) as server:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, server.base_url, str(budget)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    out, joined = lines[0], lines[1]["threads_joined"]
    assert out["stopped"] == "budget: time" and len(server.requests) == 1
    assert out["seconds"] < budget + 1.0
    assert joined - (out["t0"] + out["seconds"]) < 1.0  # CLOCK_MONOTONIC is the machine's, in both processes


def test_a_stream_only_endpoint_is_streamed_and_remembered() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        if not body.get("stream"):
            return Reply(status=400, content=STREAM_ONLY)
        return Reply(content=fenced(HONEST), reasoning_content="thinking...")

    with FakeLLM(script) as server:
        first = agents.generate(_request(server.base_url))
        second = agents.generate(_request(server.base_url))  # the same endpoint and model: streamed at once
    for result in (first, second):
        assert result.best is not None and result.best.source == HONEST, result.errors
        assert result.prompt_tokens > 0  # from the stream's usage chunk
    assert [bool(b.get("stream")) for b in server.requests] == [False, True, True]


def test_a_reasoning_model_refusing_max_tokens_and_temperature() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        if "max_tokens" in body:
            return Reply(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        if "temperature" in body:
            return Reply(400, "Unsupported value: 'temperature' does not support 0.7 with this model.")
        return Reply(content=fenced(HONEST))

    _, server = _accepted_first_round(script)
    last = server.requests[-1]
    assert "max_completion_tokens" in last and "max_tokens" not in last and "temperature" not in last
    assert len(server.requests) == 3


def test_the_token_budget_applies_without_usage() -> None:
    budget = 6000
    with FakeLLM(lambda body, i: Reply(content=fenced(C.SYNTAX_ERROR + f"\n# {i}\n"), usage=False)) as server:
        result = agents.generate(_request(server.base_url, rounds=10, budget=agents.Budget(max_tokens=budget)))
    assert result.stopped_because == "budget: tokens"
    assert 0 < result.prompt_tokens + result.completion_tokens <= budget
    assert 1 <= len(server.requests) < 10


def test_prompt_tokens_are_counted_before_a_request_is_sent() -> None:
    budget = 3000
    with FakeLLM(lambda body, i: (200, fenced(C.SYNTAX_ERROR + f"\n# {i}\n"))) as server:
        result = agents.generate(_request(server.base_url, rounds=10, budget=agents.Budget(max_tokens=budget)))
    assert result.stopped_because == "budget: tokens"
    assert server.requests, "the first request fits the budget"
    for body in server.requests:
        assert estimate_messages(body["messages"]) + body["max_tokens"] <= budget


def test_refine_prompts_carry_each_finding_once_the_failing_line_and_the_history() -> None:
    product = "acc += x.to(tl.float32) * w.to(tl.float32)"
    wrong = HONEST.replace(product, product + " * 1.01")
    answers = [C.CHEAT, C.SYNTAX_ERROR, wrong]

    def script(body: dict[str, Any], index: int) -> tuple[int, str]:
        return 200, fenced(answers[index] if index < len(answers) else HONEST)

    with FakeLLM(script) as server:
        result = agents.generate(
            _request(
                server.base_url,
                rounds=4,
                verify_options=VerifyOptions(device="cpu", trials=1, calls_per_trial=2, timeout_s=120),
            )
        )
    assert result.best is not None and result.best.source == HONEST
    after_syntax, after_wrong = (last_user_message(b) for b in server.requests[2:4])
    # syntax error: the offending text and the lines around it
    assert "Syntax error at line" in after_syntax and "class ModelNew(nn.Module)" in after_syntax
    assert ">" in after_syntax.split("Syntax error at line", 1)[1]
    # the history names the earlier cheat, so the model does not repeat it
    assert "llm-r1s1 (initial): REJECTED: no_fallback" in after_syntax
    # values: each finding once, and how many calls were right
    finding = next(r for r in result.candidates[2].report.reasons if r.startswith("values:"))
    said = after_wrong.split("This job's attempts so far")[0]  # the history repeats each first reason, once
    assert said.count(finding.split(": ", 1)[1][:80]) == 1
    assert "Calls correct: 0 of 2" in after_wrong
    json.dumps(server.requests)


@pytest.mark.parametrize("seed", [True, False])
def test_kiln_generate_template_seed_option(monkeypatch: pytest.MonkeyPatch, seed: bool) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    with FakeLLM(lambda body, i: (200, fenced(HONEST))) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        option = "--template-seed" if seed else "--no-template-seed"
        args = ["generate", "--reference", str(REFERENCE), "--proposer", "llm", "--model", "scripted-model"]
        args += [option, "--retries", "0", "--samples", "1", "--rounds", "2"]
        args += ["--device", "cpu", "--trials", "1", "--json"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    origins = [c["origin"] for c in data["candidates"]]
    assert len(server.requests) == 1  # the LLM is asked either way; on a CPU one round ends it
    asked = last_user_message(server.requests[0])
    if seed:
        assert origins == ["template", "llm:scripted-model"] and "starting point" in asked
    else:
        assert origins == ["llm:scripted-model"] and "starting point" not in asked
