"""The template compiler: Triton kernels for recognised ops, without an LLM.

``plan_template(reference, options)`` traces the reference in the verifier's sandbox, lowers the
trace to a small program of kernel nodes (``recognise``, ``optimise``) and returns a
``TemplatePlan`` whose ``variants(device)`` are complete candidate sources, one per tuning profile.
An op it does not know raises ``NoTemplate`` with the ops it saw. Covered: depthwise convolutions
1D/2D (any kernel size, stride, dilation, padding; summed branches; chains), 1x1 convolutions with
gating, FFT long convolutions (Triton FFT kernels for long filters, a direct sum for short ones;
long 1D convolutions get the same choice) with D-skip and gates, direct and transposed convolutions
over 1-3 spatial dims, CSR SpMM and GCN layers, mm / bmm / linear (triu/tril of a product), attention,
pooling, reductions and scans over any dims, norms, losses, softmax variants, logsumexp, reshapes,
channel split/concat and pointwise epilogues fused into their anchor (``agents/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.template.emit import emit_candidate
from agents.template.ir import Program
from agents.template.model_source import ModelSource, ModelSourceError, extract_model
from agents.template.recognise import NoTemplate, lower_trace
from agents.template.static_csr import recognise_csr_statically
from agents.template.tuning import profiles_for
from verifier import Reference, VerifierInputError, VerifyOptions, trace_reference

__all__ = ["NoTemplate", "TemplatePlan", "plan_template"]


@dataclass
class TemplatePlan:
    program: Program
    model: ModelSource
    title: str
    notes: list[str]
    joint: Any = None
    """Backward mode: the joint forward/backward plan (``training.joint.JointPlan``) or the ``NoTemplate``
    saying why there is none, once :func:`agents.template.propose.joint_plan` has computed it."""

    def describe(self) -> str:
        return self.program.describe()

    def kernel_groups(self) -> set[str]:
        """The tuning groups (keys of a profile) this program's kernels use."""
        groups = set()
        for n in self.program.nodes:
            if n.kind == "dwconv":
                groups.add("dwconv1d" if n.attrs.get("spatial") == 1 else "dwconv2d")
            elif n.kind in ("softmax", "layernorm", "norm"):
                groups.add("rows")
            elif n.kind == "spmm_mm":  # its two-kernel form is a matmul and an SpMM
                groups |= {"spmm", "matmul"}
            else:
                groups.add(n.kind)
        return groups

    def variants(self, device: str, limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(source, params) per distinct tuning profile for ``device``; params name the profile and its
        settings. Profiles that differ only in groups this program's kernels do not use give the same
        kernel: it is verified once, under the first profile's name, the others listed in
        ``params["same_as"]`` (four verifications of one kernel would only pick the best of four
        noisy timings)."""
        out: list[tuple[str, dict[str, Any]]] = []
        seen: dict[str, dict[str, Any]] = {}
        for name, profile in list(profiles_for(device).items())[:limit]:
            used = {k: v for k, v in profile.items() if k in self.kernel_groups()}
            source = emit_candidate(self.program, self.model, profile, self.title, name)
            key = without_profile_name(source)
            if key in seen:
                seen[key].setdefault("same_as", []).append(name)
                continue
            params = {"profile": name, "family": self.program.family, "kernels": self.describe(), **used}
            seen[key] = params
            out.append((source, params))
        return out


def without_profile_name(source: str) -> str:
    """``source`` without the docstring line naming its tuning profile (what tells two profiles' sources
    apart when their settings are the same)."""
    return "\n".join(line for line in source.splitlines() if not line.startswith("Tuning profile "))


def _trace_options(options: VerifyOptions) -> VerifyOptions:
    return VerifyOptions(
        device="cpu",
        timeout_s=options.timeout_s,
        memory_limit_mb=options.memory_limit_mb,
        sandbox=options.sandbox,
        trusted_code=options.trusted_code,
    )


def plan_template(reference: Reference, options: VerifyOptions, trace_shape: str | None = None) -> TemplatePlan:
    """Recognise ``reference`` and plan its kernels. Raises ``NoTemplate`` (with the reason) otherwise.

    The op is traced at ``trace_shape`` (a name in ``reference.shapes``), else as written: an imported
    KernelBench problem as written can be far too large to run on a CPU, its small shape is not.
    """
    try:
        model = extract_model(reference.source)
    except ModelSourceError as e:
        raise NoTemplate(str(e)) from None
    notes: list[str] = []
    try:
        trace = trace_reference(reference, trace_shape, _trace_options(options))
    except VerifierInputError as e:
        try:
            program = recognise_csr_statically(reference.source, model.forward_args)
        except NoTemplate as static_error:
            raise NoTemplate(f"{e}; reading forward statically: {static_error}") from None
        notes.append(f"trace failed ({e}); recognised by reading forward statically")
        return TemplatePlan(program, model, reference.name, notes)
    n_inputs = len(trace.inputs)
    names = model.forward_args if len(model.forward_args) == n_inputs else [f"x{i}" for i in range(n_inputs)]
    try:
        program = lower_trace(trace, names)
    except NoTemplate as e:
        ops = ", ".join(sorted({op["op"] for op in trace.ops})) or "none"
        raise NoTemplate(f"{e} (the forward dispatches: {ops})") from None
    return TemplatePlan(program, model, reference.name, notes)
