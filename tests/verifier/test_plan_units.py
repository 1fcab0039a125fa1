"""Round three's pieces one by one (the corpus runs them end to end): kernels from the text, plan
recording on data-free tensors, plan checks, the call schedule, execution with checked memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from verifier.plan import values as pv
from verifier.plan.kernel_source import extract
from verifier.plan.record import PlanRecorder
from verifier.plan.validate import PlanFacts, canonical, check_plan, releases, schema_problem
from verifier.plan_run import call_schedule

ROOT = Path(__file__).resolve().parents[2]

KERNEL = """
import torch
import triton
import triton.language as tl

SCALE = tl.constexpr(2.0)


@triton.jit
def scale_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask) * SCALE, mask=mask)
"""


def _findings(body: str, prelude: str = "") -> list[str]:
    source = (
        KERNEL
        + prelude
        + "\n\n@triton.jit\ndef probe(x_ptr, BLOCK: tl.constexpr):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return [str(f) for f in extract(source).findings]


def test_an_honest_kernel_is_taken_with_its_constant_and_signature() -> None:
    ks = extract(KERNEL)
    assert ks.ok and sorted(ks.kernels) == ["scale_kernel"]
    kernel = ks.kernels["scale_kernel"]
    assert kernel.params == ("x_ptr", "y_ptr", "n", "BLOCK") and kernel.constexpr_params == {"BLOCK"}
    assert "SCALE" in ks.constants and kernel.first_line == kernel.line - 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("v = tl.load(x_ptr)\nq = str(v)", "builtin `str`"),
        ("v = tl.load(x_ptr)\nq = v.handle", "`.handle`"),
        ("v = tl.load(x_ptr)\nq = v.__class__", "private"),
        ("v = tl.load(x_ptr)\nif isinstance(v, tl.tensor):\n    pass", "builtin `isinstance`"),
        ("q = tl.core.tensor", "a module kernels may not use"),
        ("q = triton.runtime", "not part of Triton's language"),
        ("q = np.zeros(1)", "not defined in the file"),
        ("q = f'{BLOCK}'", "f-string"),
        ("try:\n    pass\nexcept Exception:\n    pass", "try/except"),
        ("q = [i for i in range(3)]", "comprehension"),
        ("q = lambda: 1", "lambda"),
    ],
)
def test_a_body_outside_the_triton_language_is_refused_with_its_line(body: str, fragment: str) -> None:
    findings = _findings(body)
    assert any(fragment in f for f in findings), findings
    assert all(f.startswith("line ") for f in findings)


def test_the_literal_evaluator_is_python_or_refuses() -> None:
    ks = extract(
        KERNEL + "\nHALF = tl.constexpr(1.0 and 0.5)\n\n@triton.jit\ndef k(x_ptr):\n    tl.store(x_ptr, HALF)\n"
    )
    assert ks.ok and ks.constants["HALF"][1].value == 0.5  # `and` gives its deciding operand
    huge = "\n".join(["A0 = 3"] + [f"A{i + 1} = A{i} * A{i}" for i in range(12)])
    ks = extract(KERNEL + huge + "\n\n@triton.jit\ndef k(x_ptr):\n    tl.store(x_ptr, A12)\n")
    assert any("too large" in str(f) for f in ks.findings), ks.findings


def test_autotune_configs_over_a_range_and_hooks() -> None:
    tuned = KERNEL.replace(
        "@triton.jit\ndef scale_kernel",
        '@triton.autotune(configs=[triton.Config({"BLOCK": 2**k}) for k in range(5, 8)], key=["n"])\n'
        "@triton.jit\ndef scale_kernel",
    )
    ks = extract(tuned)
    assert ks.ok and [c.kwargs["BLOCK"] for c in ks.kernels["scale_kernel"].autotune.configs] == [32, 64, 128]
    hooked = tuned.replace('key=["n"])', 'key=["n"], prune_configs_by={"early_config_prune": len})')
    assert "scale_kernel" in extract(hooked).skipped


def test_a_kernel_name_rebound_anywhere_is_not_trusted() -> None:
    rebinding = KERNEL + "\n\ndef swap():\n    global scale_kernel\n    scale_kernel = None\n"
    assert "scale_kernel" in extract(rebinding).skipped
    dynamic = KERNEL + "\n\nglobals()['x'] = 1\n"
    assert "scale_kernel" in extract(dynamic).skipped


class _Pad(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))
        self.table = torch.arange(4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.pad(x, (1, 1)).contiguous()
        return y[1:-1].clone()


def test_recording_holds_layout_ops_and_no_data() -> None:
    recorder = PlanRecorder("cpu")
    model = _Pad()
    state, meta = recorder.instance(model)
    assert [m["name"] for m in meta] == ["w"] and meta[0]["shape"] == [4]
    plan, constants = recorder.record_call(model, state, [recorder.fake_inputs({"T": ["float32", [4], [1]]})])
    ops = [s["op"] for s in plan["steps"]]
    assert ops[0] == "aten.constant_pad_nd.default" and "aten.clone.default" in ops
    assert constants == [] and schema_problem(plan) is None


def _facts(plan: dict, defined: set[int], inputs: int = 1) -> tuple[list, PlanFacts]:
    return check_plan(plan, extract(KERNEL), defined, [], inputs)


def _launch(**args: object) -> dict:
    return {
        "launch": "scale_kernel",
        "line": extract(KERNEL).kernels["scale_kernel"].first_line,
        "variants": [
            {"args": {"x_ptr": {"v": 0}, "y_ptr": {"v": 1}, "n": 4, "BLOCK": 4, **args}, "grid": [1], "options": {}}
        ],
    }


def _plan(steps: list, returns: object = None) -> dict:
    alloc = {"op": "aten.empty_like.default", "args": [{"v": 0}], "kwargs": {}, "out": {"v": 1}}
    return {"inputs": {"l": [{"v": 0}]}, "steps": [alloc, *steps], "returns": returns or {"v": 1}}


def test_plan_checks_name_what_is_wrong() -> None:
    issues, _ = _facts(_plan([_launch()]), set())
    assert issues == []
    conv = {"op": "aten.convolution.default", "args": [{"v": 0}], "kwargs": {}, "out": {"v": 2}}
    issues, _ = _facts(_plan([conv]), set())
    assert issues[0].check == "no_fallback" and "aten.convolution" in issues[0].message
    elsewhere = {**_launch(), "launch": "other_kernel"}
    assert "not a top-level @triton.jit function" in _facts(_plan([elsewhere]), set())[0][0].message
    moved = {**_launch(), "line": 1}
    assert "whose code starts at line 1" in _facts(_plan([moved]), set())[0][0].message
    text = _launch(n="4")
    assert "not a tl.constexpr" in _facts(_plan([text]), set())[0][0].message
    assert "does not exist" in _facts(_plan([_launch()], returns={"v": 9}), set())[0][0].message


def test_the_schema_is_exact_and_bounded() -> None:
    plan = _plan([_launch()])
    assert schema_problem({**plan, "extra": 1}) is not None
    deep: object = 0
    for _ in range(40):
        deep = {"l": [deep]}
    assert "too deeply" in (schema_problem(_plan([{**_launch(), "variants": [{"args": {"x_ptr": deep}}]}])) or "")
    junk = {**plan["steps"][0], "junk": [[[]]]}
    assert schema_problem({**plan, "steps": [junk]}) is not None
    with pytest.raises(pv.PlanError):
        pv.check_value({"dt": {"nested": 1}})


def test_canonical_plans_are_equal_across_renumbered_calls() -> None:
    _, a = _facts(_plan([_launch()]), set())
    text = canonical(_plan([_launch()]), a, {})
    steps = [  # the second call: the same steps on values with other numbers
        {"op": "aten.empty_like.default", "args": [{"v": 10}], "kwargs": {}, "out": {"v": 11}},
        {
            **_launch(),
            "variants": [
                {**_launch()["variants"][0], "args": {"x_ptr": {"v": 10}, "y_ptr": {"v": 11}, "n": 4, "BLOCK": 4}}
            ],
        },
    ]
    second = {"inputs": {"l": [{"v": 10}]}, "steps": steps, "returns": {"v": 11}}
    _, b = check_plan(second, extract(KERNEL), set(), [], 1)
    assert canonical(second, b, {}) == text
    kept = {**second, "returns": {"v": 1}}  # returns a value of the first call instead
    _, c = check_plan(kept, extract(KERNEL), {0, 1}, [], 1)
    assert canonical(kept, c, {}) != text


def test_releases_and_the_schedule_cover_every_config() -> None:
    one = PlanFacts(inputs=[0], new=[1, 2], used={0, 1, 2}, launches=[("k", 11)])
    two = PlanFacts(inputs=[3], new=[4], used={3, 4, 2}, launches=[("k", 11)])
    assert releases([one, two]) == [[0, 1], [2, 3, 4]]

    planned = {0: SimpleNamespace(constants={}, state=[])}
    schedule = call_schedule([(0, 0, one), (0, 1, two)], planned)  # type: ignore[arg-type]
    runs = [r for s in schedule for r in s["runs"]]
    assert sorted(runs) == list(range(11))  # two calls, eleven configs: the last call runs the rest
    assert schedule[0]["snapshot"] == [2] and schedule[1]["restore"] == [2]


INTERPRETED = """
import torch
from verifier.plan.kernel_source import extract
from verifier.plan.execute import PlanExecutor
source = open({kernel!r}).read()
ex = PlanExecutor(extract(source), "cpu")
x, y = torch.arange(8.0), torch.zeros(8)
ex.set(0, x)
ex.set(1, y)
launch = {{"launch": "scale_kernel", "line": 0, "variants": [{{"args": {{"x_ptr": {{"v": 0}}, "y_ptr": {{"v": 1}},
          "n": N, "BLOCK": 8}}, "grid": [1], "options": {{}}}}]}}
plan = {{"inputs": {{"l": []}}, "steps": [launch], "returns": {{"v": 1}}}}
try:
    print("OUT", ex.run(plan, [], 0).tolist())
except Exception as e:
    print("ERR", type(e.__cause__ or e).__name__, e)
"""


@pytest.mark.parametrize(("n", "expected"), [(8, "OUT [0.0, 2.0"), (1 << 20, "ERR OutOfBounds")])
def test_interpreted_kernels_touch_only_their_tensors(tmp_path: Path, n: int, expected: str) -> None:
    kernel = tmp_path / "kernel.py"
    kernel.write_text(KERNEL.replace("mask = offs < n", "mask = offs < 8\n    offs = offs + n - 8"))
    code = INTERPRETED.format(kernel=str(kernel)).replace("N,", f"{n},")
    env = {"TRITON_INTERPRET": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert expected in proc.stdout, proc.stdout + proc.stderr[-2000:]
    if expected.startswith("ERR"):  # the finding names the kernel line that made the access
        line = kernel.read_text().splitlines().index(next(x for x in kernel.read_text().splitlines() if "tl.load" in x))
        assert f"at line {line + 1} of the candidate (kernel `scale_kernel`)" in proc.stdout, proc.stdout


def test_the_gpu_target_is_named_by_the_options(prepared_reference) -> None:
    from tests.verifier.conftest import corpus_entry
    from verifier import VerifyOptions, verify

    report = verify(
        prepared_reference, corpus_entry("honest_dwconv").candidate(), VerifyOptions(device="cpu", gpu_arch=80)
    )
    assert report.verdict == "accepted", report.reasons
    built = next(c for c in report.checks if c.name == "gpu_compile")
    assert "sm_80" in built.detail and "regs" in built.detail, built.detail
