"""KernelBench-style prompts: the task, one worked example, and the verifier's findings as feedback.

* ``initial``: reference source, target language, hardware, the verifier's rules, one example
  (the bundled ConvNeXt 7x7 depthwise reference and its honest Triton kernel), the shapes checked.
* ``refine``: the previous answer and what the verifier found (compile errors, which check failed on
  which input and by how much, the stderr tail), asking for a fixed module.
* ``improve`` (mutation): an accepted kernel with its timing and roofline share, asking for a faster one.
* ``crossover``: two accepted kernels, asking for one that combines their strengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier import Report
from verifier.examples import CANDIDATE as EXAMPLE_CANDIDATE
from verifier.examples import REFERENCE as EXAMPLE_REFERENCE

SYSTEM = (
    "You are an expert GPU kernel engineer. You replace PyTorch operators with custom {language} kernels "
    "that compute exactly the same result, faster. You answer with one complete Python module in a "
    "```python fenced block."
)

RULES = """Rules (an automatic verifier enforces them; a violation is a rejection):
- Output one complete, self-contained Python module defining `class ModelNew(nn.Module)` whose
  constructor takes the same arguments as `Model` and creates the same parameters under the same
  names (the verifier copies the reference's parameter values into ModelNew by name).
- `forward` must compute the result with your own kernel(s){language_rule}. Calling PyTorch compute
  ops on the forward path (convolutions, matmuls, FFTs, reductions, arithmetic on tensors such as
  `a + b`) is a fallback and is rejected. Allocation (`torch.empty`...), views and `.contiguous()` are fine.
- Outputs are checked on several random inputs and shapes: exact dtype and shape, every element
  within tolerance, inputs left unmodified, no aliasing of inputs. Accumulate in float32.
- No numpy, no `.tolist()`/`.item()` loops on the host, no threads, files, network, `exec`/`eval`,
  `getattr` with computed names, `setattr`, or patching of torch/triton.
- Triton: define every kernel as a top-level `@triton.jit` function of the file (literal
  `@triton.autotune` configs are fine; no hooks), and write kernel bodies in the Triton language only
  (no `str`/`int()` of tensors, `isinstance`, f-strings, `try`, comprehensions, `.handle`). Launch code
  may depend on shapes, never on tensor values: the verifier records `forward` on tensors without data
  and runs the recorded launches itself. `F.pad` and `torch.cat` are allowed around kernels.
"""

_LANGUAGE_RULE = {
    "triton": " written with Triton (`@triton.jit`, launched from forward)",
    "cuda": " written in CUDA C++ and compiled with `torch.utils.cpp_extension.load_inline`",
}


@dataclass
class PromptContext:
    reference_source: str
    language: str
    hardware: str
    shapes: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_note: str = ""

    def system(self) -> str:
        return SYSTEM.format(language="Triton" if self.language == "triton" else "CUDA")


def _example() -> str:
    ref = EXAMPLE_REFERENCE.read_text(encoding="utf-8")
    cand = EXAMPLE_CANDIDATE.read_text(encoding="utf-8")
    return (
        "Example. Given this architecture:\n```python\n" + ref.strip() + "\n```\n"
        "an accepted answer is:\n```python\n" + cand.strip() + "\n```\n"
    )


def initial(ctx: PromptContext) -> list[dict[str, str]]:
    shapes = ""
    if ctx.shapes:
        listed = "\n".join(f"- {name}: {params}" for name, params in ctx.shapes.items())
        shapes = f"\nThe verifier runs the module with these overrides of its top-level constants:\n{listed}\n"
    cuda = (
        "\nFor CUDA, build the extension with `load_inline(name=..., cpp_sources=..., cuda_sources=..., "
        "functions=[...])` at import time and call it from forward.\n"
        if ctx.language == "cuda"
        else ""
    )
    user = (
        f"Write a custom {ctx.language.upper()} implementation of the architecture below.\n"
        f"Hardware: {ctx.hardware}\n\n"
        + RULES.format(language_rule=_LANGUAGE_RULE.get(ctx.language, ""))
        + cuda
        + "\n"
        + _example()
        + (f"\n{ctx.task_note}\n" if ctx.task_note else "")
        + "\nNow the architecture to implement:\n```python\n"
        + ctx.reference_source.strip()
        + "\n```\n"
        + shapes
        + "\nAnswer with the complete ModelNew module in one ```python block."
    )
    return [{"role": "system", "content": ctx.system()}, {"role": "user", "content": user}]


def findings(report: Report, roofline: str = "", limit: int = 3500) -> str:
    """What the verifier found, as the model should read it."""
    lines = [f"Verifier verdict: {report.verdict.upper()} ({report.language} on {report.device})."]
    for reason in report.reasons[:8]:
        lines.append(f"- {reason}")
    failed = [c for c in report.checks if not c.passed]
    for check in failed[:4]:
        if check.detail and check.detail not in report.reasons:
            lines.append(f"[{check.name}] {check.detail}")
    stderr = (report.logs or {}).get("stderr", "").strip()
    if stderr and report.verdict != "accepted":
        lines.append("stderr of the candidate process (last lines):\n" + stderr[-1500:])
    if report.timing is not None:
        t = report.timing
        lines.append(
            f"Timing on {t.device_name}: {t.candidate_ms:.4f} ms, {t.speedup_eager:.2f}x over eager PyTorch "
            f"({t.eager_ms:.4f} ms)"
            + (f", {t.speedup_compiled:.2f}x over torch.compile" if t.speedup_compiled else "")
            + "."
        )
    elif report.verdict == "accepted":
        lines.append("Timing: not measured (no GPU here; correctness only).")
    if roofline:
        lines.append(roofline)
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fenced(source: str) -> str:
    return "```python\n" + source.strip() + "\n```"


def _follow_up(ctx: PromptContext, source: str, report: Report, roofline: str, ask: str) -> list[dict[str, str]]:
    """Multi-turn: the original request, the earlier answer, the verifier's findings and ``ask``."""
    return [
        *initial(ctx),
        {"role": "assistant", "content": _fenced(source)},
        {"role": "user", "content": findings(report, roofline) + "\n\n" + ask},
    ]


FIX = (
    "Fix the module so that it is accepted. Keep the same class and parameter names. "
    "Answer with the complete corrected module in one ```python block."
)
FASTER = (
    "This kernel is correct. Make it faster on the hardware above (tiling, memory access "
    "pattern, fusion, fewer launches, vectorisation, work skipped where inputs are padding) "
    "without changing results. Answer with the complete module in one ```python block."
)


def refine(ctx: PromptContext, source: str, report: Report, roofline: str = "") -> list[dict[str, str]]:
    """The rejected answer and why: fix it."""
    return _follow_up(ctx, source, report, roofline, FIX)


def improve(ctx: PromptContext, source: str, report: Report, roofline: str = "") -> list[dict[str, str]]:
    """An accepted answer and its timing: make it faster."""
    return _follow_up(ctx, source, report, roofline, FASTER)


def crossover(
    ctx: PromptContext, first: tuple[str, Report], second: tuple[str, Report], roofline: tuple[str, str] = ("", "")
) -> list[dict[str, str]]:
    body = (
        "Two correct kernels for this architecture follow, with what the verifier measured.\n\n"
        "Kernel A:\n" + _fenced(first[0]) + "\n" + findings(first[1], roofline[0], 1500) + "\n\n"
        "Kernel B:\n" + _fenced(second[0]) + "\n" + findings(second[1], roofline[1], 1500) + "\n\n"
        "Write one kernel that combines the best ideas of both and is faster than either. Answer with the "
        "complete module in one ```python block."
    )
    system, user = initial(ctx)
    return [system, {"role": "user", "content": user["content"] + "\n\n" + body}]
