"""The LLM loop verifies a round's samples concurrently when the executor can run several at once
(``parallelism``), within the candidate budget, each distinct source once. The verifier is a stand-in
that takes a while (this is about scheduling; the real verifier has its own tests)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import agents
from tests.agents import candidates as C
from tests.agents.fake_llm import FakeLLM, fenced
from verifier import Reference, Report, VerifyOptions
from verifier.examples import REFERENCE


class SlowVerifier:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.calls: list[str] = []

    def prepare(self, reference: Any, options: Any) -> Any:
        return SimpleNamespace(device="cpu", environment={})

    def verify(self, prepared: Any, candidate: Any) -> Report:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.calls.append(candidate.sha256)
        time.sleep(0.6)
        with self.lock:
            self.in_flight -= 1
        return Report(verdict="rejected", reasons=["stand-in"], candidate_sha256=candidate.sha256)


def _generate(parallelism: int, samples: int, budget: int, answers: list[str]) -> tuple[Any, SlowVerifier]:
    stand_in = SlowVerifier()
    with FakeLLM(lambda body, index: (200, fenced(answers[index % len(answers)]))) as server:
        request = agents.GenerationRequest(
            reference=Reference.from_file(REFERENCE),
            proposer="llm",
            model="scripted-model",
            base_url=server.base_url,
            verify_options=VerifyOptions(device="cpu"),
            seed_with_template=False,
            samples_per_round=samples,
            rounds=1,
            budget=agents.Budget(max_candidates=budget),
            max_retries=0,
            request_timeout_s=30,
        )
        result = agents.generate(
            request, prepare_fn=stand_in.prepare, verify_fn=stand_in.verify, parallelism=parallelism
        )
    return result, stand_in


def test_a_rounds_samples_are_verified_at_once_within_the_budget() -> None:
    answers = [C.SYNTAX_ERROR + f"\n# answer {k}\n" for k in range(4)]
    result, stand_in = _generate(parallelism=4, samples=4, budget=8, answers=answers)
    assert len(result.candidates) == 4 and len(set(stand_in.calls)) == 4
    assert stand_in.peak >= 2, stand_in.peak  # verified concurrently, not in turn

    # one source answered twice is verified once; the budget caps what runs at once
    result, stand_in = _generate(parallelism=4, samples=4, budget=2, answers=[answers[0], answers[0], *answers[1:]])
    assert len(result.candidates) == 2 and len(stand_in.calls) == 2, (result.candidates, stand_in.calls)
    assert result.stopped_because == "budget: candidates"


def test_one_at_a_time_without_parallelism() -> None:
    answers = [C.SYNTAX_ERROR + f"\n# answer {k}\n" for k in range(3)]
    result, stand_in = _generate(parallelism=1, samples=3, budget=8, answers=answers)
    assert len(result.candidates) == 3 and stand_in.peak == 1
