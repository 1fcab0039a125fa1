"""KernelBench-style prompts: the task, one worked example, and the verifier's findings as feedback.

* ``initial``: reference source, target language, hardware, the verifier's rules, one example
  (the bundled ConvNeXt 7x7 depthwise reference and its honest Triton kernel), the shapes checked. In
  backward (and ``both``) mode it asks for a training kernel instead: a ``torch.autograd.Function``
  whose ``forward`` and ``backward`` launch Triton kernels, with the rules the verifier's backward mode
  enforces (``TRAINING_RULES``) and the form of the answer (``TRAINING_FORM``).
* ``refine``: the previous answer and what the verifier found (each finding once, which check failed
  on which input and by how much, how many calls were right, the failing line with the source around
  it, the stderr tail), with the job's history of attempts, asking for a fixed module.
* ``retry``: an answer the loop refused before verifying (no complete module, cut off), and why.
* ``improve`` (mutation): an accepted kernel with its timing and roofline share, or its static GPU
  profile where nothing was timed, asking for a faster one (the template's kernel: as a start).
* ``continuation``: a cut-off answer, asking the model to go on where it stopped.
* ``crossover``: two accepted kernels, asking for one that combines their strengths.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
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

TRAINING_SYSTEM = (
    "You are an expert GPU kernel engineer. You write training kernels: you replace a PyTorch operator's "
    "forward and backward passes with custom Triton kernels that compute exactly the same outputs and "
    "gradients, faster. You answer with one complete Python module in a ```python fenced block."
)

TRAINING_RULES = """Training kernel (verified in backward mode: every call is a training step):
- Write the op as a `torch.autograd.Function` whose `forward` and `backward` (both `@staticmethod`)
  launch your own Triton kernels, and make `ModelNew.forward` return that function's output
  (`MyFn.apply(x, self.weight, ...)`). An output made outside the Function is detached from autograd
  and rejected.
- `backward(ctx, grad_output)` must compute every gradient with your own kernels: the gradient of every
  floating-point input and of every parameter (`nn.Parameter`), in the order `forward` took them
  (None only for non-tensor arguments). Calling PyTorch compute ops in `backward` (matmuls,
  convolutions, reductions such as `.sum()`, arithmetic on tensors), `torch.autograd.grad` or autograd
  through torch ops is a fallback and is rejected; allocation, views and `.contiguous()` are fine.
- Gradients are compared with autograd's on fresh inputs, fresh parameters and a fresh random
  `grad_output` on every call: use this call's `grad_output` and the tensors you saved in this call
  (`ctx.save_for_backward`); never cache gradients or anything else across calls. Do not write into
  `grad_output` or return it as a gradient; return new tensors.
- Gradient tolerances are the dtype's, widened with the reduction length; accumulate in float32 (weight
  gradients sum over the batch and positions: reduce in float32 and cast at the end).
"""

TRAINING_FORM = """The form of the answer:
```python
class _OpFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        out = torch.empty(...)                  # allocate, then launch your forward kernel(s)
        _op_forward_kernel[grid](x, weight, bias, out, ...)
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_x, grad_w, grad_b = torch.empty_like(x), torch.empty_like(weight), torch.empty(...)
        _op_grad_input_kernel[grid](grad_out, weight, grad_x, ...)
        _op_grad_params_kernel[grid](grad_out, x, grad_w, grad_b, ...)
        return grad_x, grad_w, grad_b


class ModelNew(nn.Module):
    # same constructor and parameters as Model
    def forward(self, x):
        return _OpFunction.apply(x, self.weight, self.bias)
```
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
    mode: str = "forward"
    """The verifier's mode: ``backward`` and ``both`` ask for a training kernel (``TRAINING_RULES``)."""

    @property
    def training(self) -> bool:
        return self.mode != "forward"

    def system(self) -> str:
        if self.training:
            return TRAINING_SYSTEM
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
    training = ""
    if ctx.training:
        both = " Its forward alone is verified too." if ctx.mode == "both" else ""
        training = (
            "\nThis is a training kernel: write the forward AND the backward pass of the architecture below "
            f"as Triton kernels.{both}\n" + TRAINING_RULES + "\n" + TRAINING_FORM
        )
    what = "training (forward and backward) " if ctx.training else ""
    user = (
        f"Write a custom {ctx.language.upper()} {what}implementation of the architecture below.\n"
        f"Hardware: {ctx.hardware}\n\n"
        + RULES.format(language_rule=_LANGUAGE_RULE.get(ctx.language, ""))
        + cuda
        + training
        + "\n"
        + (
            "The example below shows the kernel style only (a forward kernel); yours also needs the backward.\n"
            if ctx.training
            else ""
        )
        + _example()
        + (f"\n{ctx.task_note}\n" if ctx.task_note else "")
        + "\nNow the architecture to implement:\n```python\n"
        + ctx.reference_source.strip()
        + "\n```\n"
        + shapes
        + (
            "\nAnswer with the complete module (the autograd.Function, its kernels and ModelNew) in one "
            "```python block."
            if ctx.training
            else "\nAnswer with the complete ModelNew module in one ```python block."
        )
    )
    return [{"role": "system", "content": ctx.system()}, {"role": "user", "content": user}]


def findings(report: Report, roofline: str = "", limit: int = 3500, source: str = "") -> str:
    """What the verifier found, as the model should read it: each finding once, the calls that were
    right, where the source failed (with the lines around it, ``source`` given), the timing or the
    static GPU profile."""
    lines = [f"Verifier verdict: {report.verdict.upper()} ({report.language} on {report.device})."]
    said: list[str] = []
    for reason in report.reasons[:8]:
        if not any(reason in earlier for earlier in said):
            said.append(reason)
            lines.append(f"- {reason}")
    failed = [c for c in report.checks if not c.passed]
    for check in failed[:4]:
        detail = _CALL_COUNT.sub("", check.detail).strip()
        first = _MORE.sub("", detail)
        if detail and not any(first[:200] in earlier for earlier in said):
            said.append(detail)
            lines.append(f"[{check.name}] {detail}")
    calls = calls_correct(report)
    if calls:
        lines.append(calls)
    if source and report.verdict != "accepted":
        where = failing_excerpt(source, report)
        if where:
            lines.append(where)
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
    profile = static_profile_note(report)
    if profile:
        lines.append(profile)
    if roofline:
        lines.append(roofline)
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MORE = re.compile(r"\s*\(\+\d+ more\)$")
_CALL_COUNT = re.compile(r"\s*\[failed on (\d+) of (\d+) call\(s\)\]")
_CANDIDATE_LINE = re.compile(
    r'kiln_candidate\.py(?:", line |:)(\d+)|^\w+: line (\d+):|\(line (\d+)\)|at line (\d+) of the candidate',
    re.MULTILINE,
)
_TRITON_AT = re.compile(r"kernel `(\w+)`.*?\bat (\d+):(\d+):", re.DOTALL)


def calls_correct(report: Report) -> str:
    """'Calls correct: k of n (values failed on the others).' from the per-call checks; '' when unknown."""
    worst: tuple[int, int, str] | None = None
    for check in report.checks:
        m = _CALL_COUNT.search(check.detail) if not check.passed else None
        if m and (worst is None or int(m[1]) > worst[0]):
            worst = (int(m[1]), int(m[2]), check.name)
    if worst is None:
        return ""
    wrong, total, name = worst
    return f"Calls correct: {total - wrong} of {total} (`{name}` failed on the others)."


def failing_line(source: str, report: Report) -> int | None:
    """The candidate's line where it failed: a syntax error's, the innermost traceback frame in the
    candidate's file, a Triton compile error's kernel line, or the line a finding names."""
    try:
        ast.parse(source)
    except SyntaxError as e:
        return e.lineno
    texts = [*report.reasons, *(c.detail for c in report.checks if not c.passed), (report.logs or {}).get("stderr", "")]
    for text in texts:
        m = _TRITON_AT.search(text)
        if m:
            start = _def_line(source, m[1])
            if start is not None:
                return start + int(m[2]) - 1
    found = [int(next(g for g in m.groups() if g)) for text in texts for m in _CANDIDATE_LINE.finditer(text)]
    return found[-1] if found else None


def _def_line(source: str, name: str) -> int | None:
    tree = ast.parse(source)
    return next((n.lineno for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name), None)


def failing_excerpt(source: str, report: Report, context: int = 2) -> str:
    """The failing line with ``context`` lines around it (and a syntax error's message and column)."""
    lines = source.splitlines()
    line = failing_line(source, report)
    if line is None or not 1 <= line <= len(lines):
        return ""
    head = f"Where it failed (line {line} of your module):"
    try:
        ast.parse(source)
    except SyntaxError as e:
        head = f"Syntax error at line {line}: {e.msg}; the offending text is `{(e.text or '').strip()}`:"
    lo, hi = max(1, line - context), min(len(lines), line + context)
    body = "\n".join(f"{'>' if n == line else ' '}{n:4d} | {lines[n - 1]}" for n in range(lo, hi + 1))
    return head + "\n" + body


def static_profile_note(report: Report) -> str:
    """The candidate's static GPU profile in one or two lines (an estimate, never a timing): the report's
    ``static_profile`` summary where it has one, else the ``gpu_compile`` check's per-kernel builds."""
    profile = getattr(report, "static_profile", None) or {}
    summary = profile.get("summary") if isinstance(profile, dict) else None
    if summary:
        parts = []
        if summary.get("spills") is not None:
            parts.append(f"spills {summary.get('spill_bytes')} B" if summary["spills"] else "no spills")
        if summary.get("max_registers") is not None:
            parts.append(f"max {summary['max_registers']} registers/thread")
        if summary.get("min_occupancy") is not None:
            parts.append(f"occupancy {100 * float(summary['min_occupancy']):.0f}%")
        if summary.get("tensor_cores") is not None:
            parts.append("tensor cores used" if summary["tensor_cores"] else "no tensor-core instructions")
        if summary.get("sector_efficiency") is not None:
            parts.append(f"memory sector efficiency {100 * float(summary['sector_efficiency']):.0f}%")
        if summary.get("traffic_ratio") is not None:
            parts.append(f"{float(summary['traffic_ratio']):.1f}x the compulsory memory traffic")
        if parts:
            target = profile.get("target") or "the GPU target"
            return f"Static GPU profile for {target} (an estimate, not a timing): " + ", ".join(parts) + "."
    build = next((c for c in report.checks if c.name == "gpu_compile" and c.passed and c.detail), None)
    return f"GPU build (an estimate, not a timing): {build.detail}." if build is not None else ""


def _fenced(source: str) -> str:
    return "```python\n" + source.strip() + "\n```"


@dataclass(frozen=True)
class Attempt:
    """One earlier attempt of this job, as the history in a follow-up prompt lists it."""

    name: str
    kind: str
    verdict: str
    """accepted | rejected | not_run | unusable (the loop refused the answer before verifying it)"""
    why: str = ""


def history(attempts: Sequence[Attempt], limit: int = 12) -> str:
    """This job's attempts in summary (the last ``limit``): what was tried and what the verifier said."""
    if not attempts:
        return ""
    shown = list(attempts)[-limit:]
    more = f", the last {limit} shown" if len(attempts) > limit else ""
    lines = [f"This job's attempts so far ({len(attempts)}, oldest first{more}):"]
    for a in shown:
        verdict = "not verified" if a.verdict == "unusable" else a.verdict.upper()
        why = a.why.splitlines()[0][:200] if a.why else ""
        lines.append(f"- {a.name} ({a.kind}): {verdict}" + (f": {why}" if why else ""))
    lines.append("Do not repeat an approach that was rejected.")
    return "\n".join(lines)


def _follow_up(
    ctx: PromptContext, source: str, report: Report, roofline: str, ask: str, past: str = ""
) -> list[dict[str, str]]:
    """Multi-turn: the original request, the earlier answer, the verifier's findings, the job's history
    and ``ask``."""
    said = findings(report, roofline, source=source) + (f"\n\n{past}" if past else "")
    return [
        *initial(ctx),
        {"role": "assistant", "content": _fenced(source)},
        {"role": "user", "content": said + "\n\n" + ask},
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
START_FROM = (
    "This kernel is correct (the template compiler's). Use it as a starting point: improve it for the "
    "hardware above, or write a better one, without changing results. Answer with the complete module "
    "in one ```python block."
)
UNUSABLE = (
    "The kernel loop could not use your previous answer, so it was not verified (nothing is wrong with "
    "the verifier's rules here): {problem}. Answer again with the complete, self-contained module "
    "(imports, kernels, `class ModelNew`) in one ```python block, and keep prose short."
)
CONTINUE = (
    "Your answer was cut off at the length limit. Continue exactly where it stopped: no repetition, "
    "no preamble, no new fence unless the code block had ended."
)


def refine(ctx: PromptContext, source: str, report: Report, roofline: str = "", past: str = "") -> list[dict[str, str]]:
    """The rejected answer, why, and the job's history: fix it."""
    return _follow_up(ctx, source, report, roofline, FIX, past)


def improve(
    ctx: PromptContext, source: str, report: Report, roofline: str = "", past: str = "", seed: bool = False
) -> list[dict[str, str]]:
    """An accepted answer and its timing: make it faster (``seed``: the template's kernel, as a start)."""
    return _follow_up(ctx, source, report, roofline, START_FROM if seed else FASTER, past)


def retry(ctx: PromptContext, answer: str, problem: str, past: str = "") -> list[dict[str, str]]:
    """An answer the loop refused before verifying it (no complete module, cut off): say so, ask again."""
    shown = answer if len(answer) <= 6000 else answer[:3000] + "\n[…]\n" + answer[-3000:]
    note = UNUSABLE.format(problem=problem.rstrip("."))
    return [
        *initial(ctx),
        {"role": "assistant", "content": shown},
        {"role": "user", "content": note + (f"\n\n{past}" if past else "")},
    ]


def continuation(messages: list[dict[str, str]], partial: str) -> list[dict[str, str]]:
    """``messages`` plus the cut-off answer and a request to go on from where it stopped."""
    return [*messages, {"role": "assistant", "content": partial}, {"role": "user", "content": CONTINUE}]


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
