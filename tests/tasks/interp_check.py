"""Compare a candidate with a task's reference in one process under the Triton CPU interpreter.

A development check next to the verifier (which runs candidates sandboxed): same seed, same
parameters (the reference's state dict is loaded into ModelNew), same inputs, the task's tolerance.

    TRITON_INTERPRET=1 python tests/tasks/interp_check.py TASK_ID=CANDIDATE.py [TASK_ID=CANDIDATE.py ...]

Checks each pair on the task's small shapes; prints one JSON object {"TASK_ID=CANDIDATE.py": {shape:
problem or null}} and exits 0 when every shape of every pair matched.
TRITON_INTERPRET must be set before triton is imported, hence a separate process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

import tasks
from verifier import Tolerance


def mismatch(out: object, ref: torch.Tensor, tol: Tolerance) -> str | None:
    """Why ``out`` does not match ``ref`` under ``tol`` (the verifier's rule), or None."""
    if not isinstance(out, torch.Tensor):
        return f"output is {type(out).__name__}, not a tensor"
    if out.dtype != ref.dtype or out.shape != ref.shape:
        return f"output {out.dtype} {tuple(out.shape)} vs reference {ref.dtype} {tuple(ref.shape)}"
    c, r = out.double(), ref.double()
    if not bool(torch.isfinite(c).all()):
        return "non-finite output"
    err = (c - r).abs()
    bound = tol.atol + tol.rtol * r.abs()
    if bool((err > bound).any()):
        i = int((err - bound).argmax())
        return f"element {i}: |diff| {float(err.flatten()[i]):.3g} > {float(bound.flatten()[i]):.3g}"
    rel_l2 = float((c - r).norm() / r.norm().clamp_min(1e-30))
    if rel_l2 > tol.max_rel_l2:
        return f"relative L2 error {rel_l2:.3g} > {tol.max_rel_l2:g}"
    return None


def check(task_id: str, candidate_path: str, tier: str = "small", seeds: tuple[int, ...] = (0, 1)) -> dict:
    assert os.environ.get("TRITON_INTERPRET") == "1", "set TRITON_INTERPRET=1 before starting this process"
    task = tasks.get(task_id)
    source = Path(candidate_path).read_text(encoding="utf-8")
    results: dict[str, str | None] = {}
    for shape in task.shapes_in(tier):
        problem = None
        for seed in seeds:
            run = tasks.run_reference(task, shape, seed=seed)
            cand_module = tasks.load_module(source, name="candidate")
            torch.manual_seed(seed)
            cand = cand_module.ModelNew(*run.init_inputs)
            cand.load_state_dict(run.model.state_dict())
            inputs = [x.clone() if isinstance(x, torch.Tensor) else x for x in run.inputs]
            with torch.no_grad():
                out = cand(*inputs)
            if any(
                isinstance(a, torch.Tensor) and not torch.equal(a, b) for a, b in zip(inputs, run.inputs, strict=True)
            ):
                problem = f"seed {seed}: candidate modified its inputs"
                break
            dtype = str(run.output.dtype).removeprefix("torch.")
            reason = mismatch(out, run.output, task.tolerance(dtype))
            if reason is not None:
                problem = f"seed {seed}: {reason}"
                break
        results[shape.name] = problem
    return results


if __name__ == "__main__":
    results = {}
    for pair in sys.argv[1:]:
        task_id, _, path = pair.partition("=")
        try:
            results[pair] = check(task_id, path)
        except Exception as e:  # report, do not stop the other pairs
            results[pair] = {"*": f"{type(e).__name__}: {e}"}
    print(json.dumps(results))
    sys.exit(0 if all(v is None for r in results.values() for v in r.values()) else 1)
