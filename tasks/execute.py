"""Run a task's reference in this process (trusted code only) and guard against degenerate outputs.

The built-in references are our own code; a loaded KernelBench directory is whatever its owner put
there, so only run those you trust. Loading mirrors the verifier's worker: exec the module, assign
the shape's constants on it, then ``get_init_inputs()`` / ``get_inputs()`` under a seed.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from tasks.model import Shape, Task, TaskError, Tier
from verifier.nondegenerate import degeneracy


class DegenerateReferenceError(TaskError):
    """A reference output is constant or ~zero on its inputs: a constant kernel could pass."""


def load_module(
    source: str, overrides: Mapping[str, Any] | None = None, name: str = "kiln_reference"
) -> types.ModuleType:
    """Exec ``source`` as a fresh module and assign ``overrides`` on it (as the verifier's worker does)."""
    module = types.ModuleType(name)
    module.__dict__["__file__"] = f"<{name}>"
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    for key, value in (overrides or {}).items():
        setattr(module, key, value)
    return module


@dataclass
class ReferenceRun:
    """One in-process run of a reference: the module, the model, its inputs and its outputs."""

    module: types.ModuleType
    init_inputs: list[Any]
    model: torch.nn.Module
    inputs: list[Any]
    output: Any


def run_reference(task: Task, shape: Shape | str, seed: int = 0, device: str = "cpu") -> ReferenceRun:
    """Build ``Model`` and inputs for ``shape`` under ``seed`` and run the forward once (no grad)."""
    s = task.shape(shape) if isinstance(shape, str) else shape
    module = load_module(task.source, task.params(s), name=task.id.replace(".", "_"))
    torch.manual_seed(seed)
    init_inputs = list(module.get_init_inputs())
    model = module.Model(*init_inputs).to(device)
    torch.manual_seed(seed + 1)
    inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in module.get_inputs()]
    with torch.no_grad():
        output = model(*inputs)
    return ReferenceRun(module, init_inputs, model, inputs, output)


def output_tensors(output: Any) -> list[torch.Tensor]:
    """The tensors of a forward's output (a tensor, or a tuple/list of them)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, tuple | list):
        return [t for o in output for t in output_tensors(o)]
    return []


def degeneracy_of(task: Task, shape: Shape | str, seed: int = 0) -> str | None:
    """Why the reference output on ``shape`` is degenerate (``verifier.degeneracy``), or None."""
    run = run_reference(task, shape, seed=seed)
    tensors = output_tensors(run.output)
    if not tensors:
        return "the forward returned no tensor"
    for i, t in enumerate(tensors):
        reason = degeneracy(t)
        if reason is not None:
            return f"output {i}: {reason}" if len(tensors) > 1 else reason
    return None


def check_nondegenerate(task: Task, tier: Tier = "small", seeds: tuple[int, ...] = (0, 1)) -> None:
    """Raise ``DegenerateReferenceError`` if the reference output is degenerate on any shape of ``tier``."""
    problems = []
    for s in task.shapes_in(tier):
        for seed in seeds:
            reason = degeneracy_of(task, s, seed=seed)
            if reason is not None:
                problems.append(f"shape {s.name}, seed {seed}: {reason}")
    if problems:
        raise DegenerateReferenceError(f"task {task.id}: degenerate reference output: " + "; ".join(problems))
