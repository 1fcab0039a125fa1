"""Code extraction from model answers: the shapes real models write them in."""

from __future__ import annotations

from agents.llm.extract import extract, extract_code

MODEL = "import torch\n\n\nclass ModelNew(torch.nn.Module):\n    pass\n"


def test_picks_the_block_defining_modelnew() -> None:
    answer = f"Plan:\n```python\nx = 1\n```\nFinal:\n```python\n{MODEL}```\nDone."
    assert extract_code(answer) == MODEL


def test_prefers_the_last_complete_block() -> None:
    draft = MODEL.replace("pass", "x = 0")
    answer = f"```python\n{draft}```\nBetter:\n```py\n{MODEL}```"
    assert extract_code(answer) == MODEL


def test_untagged_fence_and_bare_code() -> None:
    assert extract_code(f"```\n{MODEL}```") == MODEL
    assert extract_code(MODEL) == MODEL


def test_no_code() -> None:
    found = extract("I cannot help with that.")
    assert found.code is None and "no fenced code block" in found.problem


def test_a_block_without_modelnew_is_not_verified_and_the_model_is_told() -> None:
    found = extract("```python\nprint('hi')\n```")
    assert found.code is None
    assert "block 1 defines no top-level `class ModelNew`" in found.problem


def test_think_sections_are_stripped_before_fences_are_paired() -> None:
    # one inline fence in the reasoning shifted a regex's pairing: the prose between got verified
    answer = (
        "<think>The docstring could use ```python examples; no, keep it short.\n"
        "Also a draft: class ModelNew: ...</think>\n"
        f"Here is the module:\n```python\n{MODEL}```\n"
    )
    assert extract_code(answer) == MODEL


def test_a_lone_closing_think_tag_ends_the_reasoning() -> None:
    # chat templates that open <think> in the prompt leave only the closing tag in the answer
    answer = f"I will avoid ```python inline fences.\n</think>\nThe module:\n```python\n{MODEL}```"
    assert extract_code(answer) == MODEL


def test_tilde_fences_and_longer_fences() -> None:
    assert extract_code(f"~~~python\n{MODEL}~~~\n") == MODEL
    inner = MODEL + '\nDOC = """\n```\nnot a fence end\n```\n"""\n'
    assert extract_code(f"````python\n{inner}````\n") == inner


def test_an_indented_fence_is_dedented() -> None:
    indented = "".join(f"   {line}\n" if line else "\n" for line in MODEL.splitlines())
    answer = f"1. The module:\n   ```python\n{indented}   ```\n2. Done."
    assert extract_code(answer) == MODEL


def test_an_excerpt_after_the_full_module_is_not_taken() -> None:
    excerpt = "class ModelNew(nn.Module):\n    def forward(self, x):\n        return kernel(x)\n"
    answer = f"```python\n{MODEL}```\nThe key part again:\n```python\n{excerpt}```\n"
    assert extract_code(answer) == MODEL
    alone = extract(f"```python\n{excerpt}```")
    assert alone.code is None and "`nn`" in alone.problem and "without importing" in alone.problem


def test_prose_around_unfenced_code_is_not_verified() -> None:
    found = extract(f"Sure! Here is the code:\n{MODEL}\nIt should be fast.")
    assert found.code is None and found.problem


def test_the_model_s_own_bugs_still_go_to_the_verifier() -> None:
    syntax = MODEL.replace("class ModelNew(torch.nn.Module):", "class ModelNew(torch.nn.Module)")
    assert extract_code(f"```python\n{syntax}```") == syntax  # the verifier names the line
    undefined = MODEL.replace("pass", "scale = w_undefined")
    found = extract(f"```python\n{undefined}```")
    assert found.code == undefined and not found.complete


def test_an_unclosed_block_runs_to_the_end() -> None:
    assert extract_code(f"```python\n{MODEL}") == MODEL
