"""Backward mode: the backward corpus is judged by name, honest training kernels pass, and the pieces
(tolerance scaling, layouts, the ``both`` report) do what they say."""

from __future__ import annotations

import pytest
import torch

from tests.verifier.corpus_files import CORPUS, load_corpus
from verifier import Candidate, PreparedReference, Reference, Report, VerifyOptions, prepare, verify
from verifier.backward import BackwardLayout, gradient_tolerance, leaf_judging, reduction_length
from verifier.errors import VerifierInputError
from verifier.modes import both_report
from verifier.reference_run import InputSet
from verifier.report import Check, Timing
from verifier.spec import Tolerance
from verifier.static_screen import screen

BACKWARD = CORPUS / "backward"
ENTRIES = {e.name: e for e in load_corpus(BACKWARD)}
OPTIONS = VerifyOptions(device="cpu", static_screen=False, timeout_s=120, calls_per_trial=3, mode="backward")


@pytest.fixture(scope="module")
def prepared_backward() -> PreparedReference:
    reference = Reference.from_file(BACKWARD / "reference_channel_affine.py")
    return prepare(reference, OPTIONS)


def _failed(report: Report) -> set[str]:
    return {c.name for c in report.checks if not c.passed}


def test_the_backward_corpus_has_each_cheat_class() -> None:
    expected = {e.expect for e in ENTRIES.values()}
    assert {"accepted", "no_fallback", "values", "backward", "structure", "inputs_unmodified"} <= expected
    assert {
        "cheat_torch_in_backward",
        "cheat_cached_gradients",
        "cheat_ignores_grad_output",
        "cheat_wrong_bias_gradient",
        "cheat_detached_output",
    } <= set(ENTRIES)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_backward_corpus_entry(prepared_backward: PreparedReference, name: str) -> None:
    entry = ENTRIES[name]
    report = verify(prepared_backward, entry.candidate(), OPTIONS)
    assert report.mode == "backward"
    if entry.expect == "accepted":
        assert report.verdict == "accepted", report.reasons
        assert {"backward", "values", "no_fallback", "inputs_unmodified"} <= {c.name for c in report.checks}
        return
    assert report.verdict == "rejected", f"{name} was accepted: {report.checks}"
    assert entry.expect in _failed(report), (name, report.reasons)
    assert any(r.startswith(f"{entry.expect}:") for r in report.reasons), report.reasons


def test_a_wrong_gradient_is_named_by_its_parameter_index_and_size(prepared_backward: PreparedReference) -> None:
    report = verify(prepared_backward, ENTRIES["cheat_wrong_bias_gradient"].candidate(), OPTIONS)
    values = [r for r in report.reasons if r.startswith("values:")]
    assert values and all("gradient of parameter `bias`" in r for r in values), report.reasons
    assert not any("`weight`" in r or "gradient of input" in r for r in report.reasons)
    assert "of 5 elements" in values[0] and "worst at index [" in values[0]


def test_a_missing_gradient_names_the_parameter(prepared_backward: PreparedReference) -> None:
    report = verify(prepared_backward, ENTRIES["cheat_missing_weight_gradient"].candidate(), OPTIONS)
    assert any("gradient of parameter `weight`: returned NoneType" in r for r in report.reasons), report.reasons


def test_honest_and_cheating_entries_pass_the_static_screen_unless_their_header_says() -> None:
    for entry in ENTRIES.values():
        findings = screen(entry.source())
        if entry.static == "none":
            assert findings == [], (entry.name, findings)
        else:
            assert any(entry.static in str(f) for f in findings), (entry.name, findings)


def test_a_detached_forward_passes_forward_mode_and_fails_backward_mode() -> None:
    """The same file is accepted for inference and refused for training: the modes check different things."""
    reference = Reference.from_file(BACKWARD / "reference_channel_affine.py")
    options = VerifyOptions(device="cpu", static_screen=False, timeout_s=120, calls_per_trial=2, mode="both")
    detached = verify(reference, ENTRIES["cheat_detached_output"].candidate(), options)
    assert detached.mode == "both" and detached.verdict == "rejected"
    failed = _failed(detached)
    assert "backward.backward" in failed and "values" not in failed, detached.reasons
    assert any(r.startswith("backward backward:") for r in detached.reasons)
    prepared = prepare(reference, options)
    honest = verify(prepared, ENTRIES["honest_affine"].candidate(), options)
    assert honest.verdict == "accepted", honest.reasons
    names = {c.name for c in honest.checks}
    assert {"values", "backward.values", "backward.backward"} <= names


def test_a_prepared_reference_serves_only_its_own_mode(prepared_backward: PreparedReference) -> None:
    with pytest.raises(VerifierInputError, match="prepared for backward mode"):
        verify(prepared_backward, ENTRIES["honest_affine"].candidate(), VerifyOptions(device="cpu"))
    with pytest.raises(VerifierInputError, match="mode both needs it prepared"):
        verify(prepared_backward, ENTRIES["honest_affine"].candidate(), VerifyOptions(device="cpu", mode="both"))


def test_a_cuda_candidate_is_refused_in_backward_mode(prepared_backward: PreparedReference) -> None:
    source = "from torch.utils.cpp_extension import load_inline\nclass ModelNew: pass\n"
    report = verify(prepared_backward, Candidate(source=source), OPTIONS)
    assert report.verdict == "rejected"
    assert any(r.startswith("backward:") and "Triton candidates" in r for r in report.reasons)


def test_the_reference_draws_fresh_grad_outputs_and_keeps_the_layout(prepared_backward: PreparedReference) -> None:
    calls = prepared_backward.trials[0].calls
    layout = calls[0].backward
    assert layout == BackwardLayout(forward_inputs=1, grad_inputs=(0,), grad_outputs=(0,), params=("weight", "bias"))
    grad_outputs = [c.inputs[1] for c in calls]
    assert not torch.equal(grad_outputs[0], grad_outputs[1])
    _outputs, grad_inputs, grad_params = calls[0].outputs
    assert grad_inputs[0].shape == calls[0].inputs[0].shape
    assert [g.shape for g in grad_params] == [torch.Size([5]), torch.Size([5])]
    labels, lengths = leaf_judging(calls[0])
    assert labels == ["output", "gradient of input 0", "gradient of parameter `weight`", "gradient of parameter `bias`"]
    assert lengths == [1, 1, 3 * 37, 3 * 37]
    assert leaf_judging(InputSet(inputs=[], outputs=None)) is None


def test_gradient_tolerance_widens_atol_with_the_reduction_length_and_is_capped() -> None:
    base = Tolerance(1e-2, 1e-2, 1e-3)
    assert gradient_tolerance(base, 10) == base
    wide = gradient_tolerance(base, 4 * 1024)
    assert wide == Tolerance(2e-2, 1e-2, 1e-3)
    assert gradient_tolerance(base, 10**12).atol == pytest.approx(8e-2)
    assert gradient_tolerance(None, 10**6) is None
    assert reduction_length(torch.zeros(4), [torch.zeros(2, 4, 8)]) == 16
    assert reduction_length(torch.zeros(64), [torch.zeros(2)]) == 1


def test_grad_inputs_must_name_floating_point_inputs() -> None:
    from verifier.backward import grad_input_positions

    inputs = [torch.zeros(2, dtype=torch.int64), torch.zeros(2), 3]
    assert grad_input_positions(inputs, None) == (1,)
    assert grad_input_positions(inputs, (1,)) == (1,)
    with pytest.raises(ValueError, match="not floating-point"):
        grad_input_positions(inputs, (0,))


def test_the_both_report_needs_both_verdicts() -> None:
    timing = Timing("gpu", 1.0, 2.0, None, 2.0, None, 10, 1, "events")
    forward = Report(verdict="accepted", checks=[Check("values", True)], timing=timing)
    backward = Report(verdict="rejected", checks=[Check("values", False, "bad")], reasons=["values: bad"])
    merged = both_report(forward, backward)
    assert merged.verdict == "rejected" and merged.mode == "both"
    assert [c.name for c in merged.checks] == ["values", "backward.values"]
    assert merged.reasons == ["backward values: bad"]
    assert forward.checks == [Check("values", True)]  # the forward's report is not changed
    accepted = both_report(forward, Report(verdict="accepted", timing=timing))
    assert accepted.verdict == "accepted" and accepted.backward_timing == timing
    assert Report.from_dict(accepted.to_dict()).backward_timing == timing
    skipped = both_report(Report(verdict="rejected", reasons=["values: x"]), None)
    assert skipped.verdict == "rejected" and any("not verified" in n for n in skipped.notes)


def test_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        VerifyOptions(mode="sideways")  # type: ignore[arg-type]


def test_kiln_verify_takes_the_mode(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from service.cli import app

    reference = str(BACKWARD / "reference_channel_affine.py")
    candidate = tmp_path / "honest_affine.py"
    candidate.write_text(ENTRIES["honest_affine"].source())
    args = ["verify", "-r", reference, "-c", str(candidate), "--device", "cpu", "--json", "--mode", "backward"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "backward" and report["verdict"] == "accepted"
    bad = CliRunner().invoke(app, ["verify", "-r", reference, "-c", str(candidate), "--mode", "sideways"])
    assert bad.exit_code == 2 and "mode must be forward, backward or both" in bad.output


def test_framework_compute_in_backward_is_named_as_the_training_step(prepared_backward: PreparedReference) -> None:
    report = verify(prepared_backward, ENTRIES["cheat_torch_in_backward"].candidate(), OPTIONS)
    reasons = [r for r in report.reasons if r.startswith("no_fallback:")]
    assert reasons and all("the training step (its forward or its backward) runs" in r for r in reasons)
    assert any("aten.mul" in r for r in reasons) and any("aten.sum" in r for r in reasons)


def test_the_timed_training_step_computes_the_gradients_the_reference_is_judged_by() -> None:
    """What the GPU timing of the reference runs (forward with autograd, then autograd.grad) is the step
    whose gradients the candidate is compared with (checked here on a CPU, without timing)."""
    from tasks.execute import load_module
    from verifier.backward import training_call
    from verifier.worker.backward_timing import _step

    module = load_module((BACKWARD / "reference_channel_affine.py").read_text())
    model = module.Model(*module.get_init_inputs())
    inputs = list(module.get_inputs())
    call_inputs, (_out, grad_inputs, grad_params), layout = training_call(model, inputs, inputs, None, 11)
    named = dict(model.named_parameters())
    grads = _step(model, call_inputs, layout, [named[n] for n in layout.params])()
    for got, want in zip(grads, (*grad_inputs, *grad_params), strict=True):
        torch.testing.assert_close(got, want)
