"""Code extraction from model answers."""

from __future__ import annotations

from agents.llm.extract import extract_code

MODEL = "import torch\n\nclass ModelNew(torch.nn.Module):\n    pass\n"


def test_picks_the_block_defining_modelnew() -> None:
    answer = f"Plan:\n```python\nx = 1\n```\nFinal:\n```python\n{MODEL}```\nDone."
    assert extract_code(answer) == MODEL


def test_prefers_the_last_modelnew_block() -> None:
    draft = MODEL.replace("pass", "return None")
    answer = f"```python\n{draft}```\nBetter:\n```py\n{MODEL}```"
    assert extract_code(answer) == MODEL


def test_untagged_fence_and_bare_code() -> None:
    assert extract_code(f"```\n{MODEL}```") == MODEL
    assert extract_code(MODEL) == MODEL


def test_no_code() -> None:
    assert extract_code("I cannot help with that.") is None


def test_python_block_without_modelnew_is_returned_for_the_verifier_to_reject() -> None:
    assert extract_code("```python\nprint('hi')\n```") == "print('hi')\n"
