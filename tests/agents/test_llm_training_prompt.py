"""The LLM loop in backward mode: its prompt asks for a training kernel (a ``torch.autograd.Function``
whose backward launches Triton kernels) and states the backward rules; an honest answer of that form,
served by the scripted OpenAI-compatible server, is verified as a training kernel and accepted."""

from __future__ import annotations

import pytest

import agents
from agents.llm import prompts
from tests.agents.fake_llm import FakeLLM, fenced, last_user_message
from tests.verifier.corpus_files import CORPUS, corpus_entry
from verifier import Reference, VerifyOptions

BACKWARD = CORPUS / "backward"


def _context(mode: str) -> prompts.PromptContext:
    source = (BACKWARD / "reference_channel_affine.py").read_text()
    return prompts.PromptContext(reference_source=source, language="triton", hardware="a CPU", mode=mode)


def test_the_backward_prompt_asks_for_an_autograd_function_and_states_the_rules() -> None:
    forward = prompts.initial(_context("forward"))
    for mode in ("backward", "both"):
        system, user = prompts.initial(_context(mode))
        assert system["content"] == prompts.TRAINING_SYSTEM and "training kernels" in system["content"]
        assert "torch.autograd.Function" in user["content"] and "def backward(ctx, grad_out)" in user["content"]
        assert prompts.TRAINING_RULES in user["content"]
        assert "never cache gradients" in user["content"] and "every parameter" in user["content"]
        assert ("Its forward alone is verified too" in user["content"]) == (mode == "both")
    assert "autograd" not in forward[0]["content"] + forward[1]["content"]  # the forward prompt is unchanged


@pytest.mark.serial
def test_an_honest_training_kernel_from_the_model_is_accepted_in_backward_mode() -> None:
    honest = corpus_entry("honest_affine", BACKWARD).source()
    with FakeLLM(lambda body, i: (200, fenced(honest))) as server:
        result = agents.generate(
            agents.GenerationRequest(
                reference=Reference.from_file(BACKWARD / "reference_channel_affine.py"),
                proposer="llm",
                model="scripted-model",
                base_url=server.base_url,
                verify_options=VerifyOptions(device="cpu", trials=1, calls_per_trial=2, timeout_s=180, mode="backward"),
                seed_with_template=False,
                samples_per_round=1,
                rounds=1,
                max_retries=1,
                request_timeout_s=30,
            )
        )
    asked = last_user_message(server.requests[0])
    assert "torch.autograd.Function" in asked and prompts.TRAINING_RULES in asked
    assert server.requests[0]["messages"][0]["content"] == prompts.TRAINING_SYSTEM
    assert result.best is not None, [c.report.reasons for c in result.candidates]
    assert result.best.report.mode == "backward" and result.best.report.accepted
