"""Run tiny references' template candidates against the references' own forward, without a sandbox.

The template tests' references are written in the tests (trusted), so they are traced with the
verifier's trace role in an ordinary process, not a sandbox: a case costs its Triton interpreter run,
not a sandbox start. ``run_cases`` runs a whole module's cases in one child process that sets
``TRITON_INTERPRET=1`` before importing Triton, as the verifier's worker does (in a test process Triton
is imported first, and the interpreter then fails on kernels that call the library's ``@jit`` helpers
from nested functions). End-to-end ``verify()`` runs (sandboxed) stay in the tests that name them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from agents.template import TemplatePlan
from agents.template.model_source import extract_model
from agents.template.recognise import lower_trace
from verifier import OpTrace
from verifier.worker import trace_role

MODULE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
{init}

    def forward(self, {args}):
        return {body}


def get_inputs():
    return [{inputs}]


def get_init_inputs():
    return []
"""


def reference_source(body: str, inputs: str, init: str = "        pass") -> str:
    """A reference whose forward returns ``body`` over inputs x, y, z (``inputs``: their constructors)."""
    n = inputs.count("torch.")
    args = ", ".join(["x", "y", "z"][:n])
    return MODULE.format(body=body, inputs=inputs, init=init, args=args)


class _Frames:
    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []

    def send(self, kind: str, fields: dict[str, Any] | None = None, values: Any = None) -> None:
        self.frames.append((kind, fields or {}))

    def error(self, stage: str, exc: BaseException, **fields: Any) -> None:
        raise exc


def trace_here(source: str) -> OpTrace:
    """The reference's aten trace, as ``verifier.trace_reference`` returns it, traced in this process."""
    frames = _Frames()
    with tempfile.TemporaryDirectory() as scratch:
        trace_role.run({"source": source, "overrides": {}, "seed": 0}, frames, Path(scratch))  # type: ignore[arg-type]
    found = next(f for kind, f in frames.frames if kind == "trace")
    return OpTrace.from_frame(found)


def plan_here(source: str, name: str = "case") -> TemplatePlan:
    """``agents.template.plan_template`` with the trace taken in this process."""
    model = extract_model(source)
    trace = trace_here(source)
    n = len(trace.inputs)
    names = model.forward_args if len(model.forward_args) == n else [f"x{i}" for i in range(n)]
    return TemplatePlan(lower_trace(trace, names), model, name, [])


def load_candidate(candidate: str, name: str = "case") -> types.ModuleType:
    module = types.ModuleType(f"cand_{name}")
    exec(compile(candidate, f"<template candidate {name}>", "exec"), module.__dict__)
    return module


def run_against_torch(
    source: str, name: str = "case", rtol: float = 1e-4, atol: float = 1e-5, profile: str | None = None
) -> TemplatePlan:
    """Plan, emit the CPU candidate (or the GPU tuning profile ``profile``'s), run it on the interpreter
    and compare with the reference's forward."""
    plan = plan_here(source, name)
    if profile is None:
        candidate, _ = plan.variants("cpu")[0]
    else:
        candidate = next(src for src, params in plan.variants("cuda") if params["profile"] == profile)
    ref = types.ModuleType(f"ref_{name}")
    exec(compile(source, f"<ref {name}>", "exec"), ref.__dict__)
    cand = load_candidate(candidate, name)
    torch.manual_seed(0)
    inputs = ref.get_inputs()
    model = ref.Model().eval()
    new = cand.ModelNew().eval()
    new.load_state_dict(model.state_dict())
    with torch.no_grad():
        got = new(*inputs)
        want = model(*inputs)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    if want.dtype == torch.int64:
        assert torch.equal(got, want)
    else:
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    return plan


def run_cases(cases: dict[str, str], timeout_s: float = 500, profile: str | None = None) -> dict[str, dict[str, Any]]:
    """``run_against_torch`` for each ``{name: source}`` in one child process; per case ``ok``, ``error``,
    ``kinds`` (the program's node kinds) and ``describe``. ``profile``: a GPU tuning profile's kernels
    instead of the CPU one's (still run in the interpreter)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.agents.template_harness"],
        input=json.dumps({"cases": cases, "profile": profile}),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=root,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the harness process failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def results_fixture(
    cases: dict[str, tuple[str, ...]], profiles: list[str | None] | None = None, ids: list[str] | None = None
) -> Any:
    """A module-scoped ``results`` fixture: ``run_cases`` of ``{name: reference_source's arguments}``,
    once per tuning profile in ``profiles`` (``ids`` names them; None: the CPU profile only)."""

    def results(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
        sources = {name: reference_source(*case) for name, case in cases.items()}
        return run_cases(sources, profile=getattr(request, "param", None))

    return pytest.fixture(scope="module", params=profiles, ids=ids)(results)


def matched(results: dict[str, dict[str, Any]], case: str) -> dict[str, Any]:
    """A case's result from ``results``, which must have run and matched torch."""
    got = results[case]
    assert got["ok"], got["error"]
    return got


def _main() -> None:
    request = json.loads(sys.stdin.read())
    results = {}
    for name, source in request["cases"].items():
        try:
            plan = run_against_torch(source, name, profile=request.get("profile"))
            kinds = [n.kind for n in plan.program.nodes]
            results[name] = {"ok": True, "error": "", "kinds": kinds, "describe": plan.describe()}
        except Exception as e:
            tb = traceback.format_exc()[-2500:]
            results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:1500] + "\n" + tb, "kinds": []}
    print(json.dumps(results))


if __name__ == "__main__":
    _main()


def default_gpu_profile_summary(reference: Any, trace_shape: str | None = None) -> dict[str, Any]:
    """The template compiler's kernel for ``reference`` at the default GPU tuning profile (the first),
    verified on the CPU (sandboxed): asserts it is accepted and returns its static profile's summary
    (traffic ratio, sector efficiency, spills...)."""
    from agents.template import plan_template
    from agents.template.emit import emit_candidate
    from agents.template.tuning import GPU_PROFILES
    from verifier import VerifyOptions, verify

    options = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=600)
    plan = plan_template(reference, options, trace_shape)
    name, profile = next(iter(GPU_PROFILES.items()))
    report = verify(reference, emit_candidate(plan.program, plan.model, profile, plan.title, name), options)
    assert report.verdict == "accepted", report.reasons
    return report.static_profile["summary"]
