"""What the model is told after a verification: each finding once, where it failed, how many calls were
right, the job's history, the static GPU profile (reports built by hand; the loop tests use real ones)."""

from __future__ import annotations

from agents.llm import prompts
from tests.agents import candidates as C
from verifier import Report
from verifier.report import Check

VALUES = "trial 1 (parameter seed 5), call 2 (input seed 7): relative L2 error 0.0098 exceeds 0.001"


def _rejected(reasons: list[str], checks: list[Check], stderr: str = "") -> Report:
    return Report("rejected", reasons=reasons, checks=checks, logs={"stdout": "", "stderr": stderr})


def test_each_finding_once_and_the_calls_that_were_right() -> None:
    report = _rejected(
        [f"values: {VALUES}"],
        [Check("load", True, "ok"), Check("values", False, f"{VALUES} (+1 more) [failed on 2 of 3 call(s)]")],
    )
    text = prompts.findings(report)
    assert text.count("relative L2 error 0.0098") == 1
    assert "Calls correct: 1 of 3 (`values` failed on the others)." in text


def test_a_syntax_error_shows_the_offending_text_and_the_lines_around_it() -> None:
    report = _rejected(["static_screen: line 48: syntax error: expected ':'"], [Check("static_screen", False, "")])
    text = prompts.findings(report, source=C.SYNTAX_ERROR)
    lines = C.SYNTAX_ERROR.splitlines()
    bad = next(n for n, line in enumerate(lines, 1) if line.startswith("class ModelNew"))
    assert f"Syntax error at line {bad}: expected ':'" in text
    assert "the offending text is `class ModelNew(nn.Module)`" in text
    assert f">{bad:4d} | class ModelNew(nn.Module)" in text
    assert f" {bad - 1:4d} | " in text and f" {bad + 1:4d} | " in text


def test_a_triton_compile_error_points_at_the_kernel_line() -> None:
    source = C.HONEST.replace("tl.arange(0, BLOCK_H)", "tl.arange(0, BLOCK_H + 1)", 1)
    detail = "kernel `dwconv2d_kernel` does not compile for sm_90: at 19:42:\n    c = plane % C\narange's range"
    report = _rejected([f"gpu_compile: {detail}"], [Check("gpu_compile", False, detail)])
    where = prompts.failing_excerpt(source, report)
    assert where.startswith("Where it failed (line 28 of your module):")
    assert ">  28 |     offs_h = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H + 1)" in where


def test_a_runtime_error_names_the_innermost_frame_of_the_module() -> None:
    stderr = (
        'Traceback (most recent call last):\n  File "/tmp/w/kiln_candidate.py", line 61, in forward\n'
        "  File \"/tmp/w/kiln_candidate.py\", line 40, in dwconv2d_kernel\nNameError: name 'q' is not defined"
    )
    report = _rejected(["load: NameError: name 'q' is not defined"], [Check("load", False, "")], stderr)
    where = prompts.failing_excerpt(C.HONEST, report)
    assert where.startswith("Where it failed (line 40 of your module):")
    assert f">  40 | {C.HONEST.splitlines()[39]}" in where


def test_the_static_profile_is_feedback_where_nothing_was_timed() -> None:
    report = Report("accepted", checks=[Check("gpu_compile", True, "1 build(s) for sm_90: k: 72 regs, 0 spills")])
    assert (
        prompts.static_profile_note(report)
        == "GPU build (an estimate, not a timing): 1 build(s) for sm_90: k: 72 regs, 0 spills."
    )
    summary = {
        "spills": True,
        "spill_bytes": 64,
        "max_registers": 255,
        "tensor_cores": False,
        "min_occupancy": 0.25,
        "sector_efficiency": 0.5,
        "traffic_ratio": 3.0,
    }
    report.static_profile = {"target": "sm_90", "summary": summary}
    note = prompts.static_profile_note(report)
    assert note.startswith("Static GPU profile for sm_90 (an estimate, not a timing): spills 64 B")
    assert "occupancy 25%" in note and "no tensor-core instructions" in note and "sector efficiency 50%" in note
    assert note in prompts.findings(report)


def test_the_history_lists_every_attempt_in_summary() -> None:
    attempts = [
        prompts.Attempt("llm-r1s1", "initial", "rejected", "no_fallback: the forward runs aten.convolution\nmore"),
        prompts.Attempt("llm-r1s2", "initial", "unusable", "your answer was cut off at the length limit"),
    ]
    text = prompts.history(attempts)
    assert "- llm-r1s1 (initial): REJECTED: no_fallback: the forward runs aten.convolution\n" in text
    assert "- llm-r1s2 (initial): not verified: your answer was cut off" in text
    assert "Do not repeat an approach that was rejected." in text
    assert prompts.history([]) == ""


def test_an_out_of_bounds_access_points_at_the_kernel_line() -> None:
    detail = (
        "trial 1 (parameter seed 1), call 1 (input seed 2): the kernel reads address 0x55, outside every tensor "
        "passed to the launch (51 of 256 lane(s)) at line 38 of the candidate (kernel `dwconv2d_kernel`)"
    )
    report = _rejected([f"memory: {detail}"], [Check("memory", False, detail)])
    where = prompts.failing_excerpt(C.HONEST, report)
    assert where.startswith("Where it failed (line 38 of your module):")
    assert f">  38 | {C.HONEST.splitlines()[37]}" in where
