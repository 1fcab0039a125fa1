"""benchmarks/llm_prompts.py: which prompt a request is, and which kernel the scripted model answers with."""

from __future__ import annotations

from agents.llm import prompts
from benchmarks.llm_prompts import kind_of, shown_kernel, what_was_said
from verifier import Report

CTX = prompts.PromptContext("class Model: ...", "triton", "a GPU")
KERNEL_A, KERNEL_B = "import torch\nA = 1\n", "import torch\nB = 2\n"


def test_each_prompt_is_named_and_answered_with_the_kernel_it_showed() -> None:
    accepted = Report("accepted")
    improve = {"messages": prompts.improve(CTX, KERNEL_A, accepted, seed=True)}
    assert kind_of(improve) == "improve-seed" and shown_kernel(improve, None) == KERNEL_A
    assert kind_of({"messages": prompts.improve(CTX, KERNEL_A, accepted)}) == "improve"
    refine = {"messages": prompts.refine(CTX, KERNEL_B, Report("rejected", reasons=["values: off"]))}
    assert kind_of(refine) == "refine" and shown_kernel(refine, None) == KERNEL_B
    cross = {"messages": prompts.crossover(CTX, (KERNEL_A, accepted), (KERNEL_B, accepted))}
    assert kind_of(cross) == "crossover" and shown_kernel(cross, None) == KERNEL_A
    assert what_was_said(cross).startswith("Two correct kernels")
    initial = {"messages": prompts.initial(CTX)}
    assert kind_of(initial) == "initial" and shown_kernel(initial, "SEED") == "SEED"
    retry = {"messages": prompts.retry(CTX, "prose", "no code block is a complete module")}
    assert kind_of(retry) == "retry"
