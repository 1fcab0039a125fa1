"""Executing launch plans on real tensors, in the kernel runner (no candidate Python runs there).

The runner holds one value table for a candidate: inputs, parameters, constants and every value a
plan step makes. A step is either an allowed framework op, called by name on the real tensors
(``torch.ops.aten.<op>.<overload>``), or a launch of one of the candidate's kernels as built from
the file's text (:mod:`verifier.plan.kernel_source`): an interpreted one on a CPU, a compiled one
on a GPU. An autotuned launch carries one variant per config: correctness calls take them in
turn, so every config is checked; a GPU's timed calls use the fastest (:meth:`PlanExecutor.tune`).

With ``fake=True`` the same plans run on fake tensors and launches are only collected (kernel,
variant, arguments): the runner learns every launch's signature before any data exists, to compile
each kernel for the GPU target first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from verifier.plan import ops
from verifier.plan import values as pv
from verifier.plan.kernel_source import KernelSource, build_namespace


@dataclass
class Launch:
    """A launch seen on a dry (fake) run: what the kernel will be compiled for."""

    kernel: str
    variant: int
    args: dict[str, Any]
    options: dict[str, int]


def resolve_op(name: str, allowed: frozenset[str]) -> Any:
    """``torch.ops.aten.view.default`` for ``"aten.view.default"``, if a plan may hold it."""
    if ops.refused(name, allowed):
        raise pv.PlanError(f"the op {ops.packet(name)} is not allowed in a plan")
    parts = name.split(".")
    if len(parts) != 3 or not all(p.isidentifier() for p in parts):
        raise pv.PlanError(f"a malformed op name {name!r}")
    namespace, op, overload = parts
    try:
        packet = getattr(getattr(torch.ops, namespace), op)
        return getattr(packet, overload)
    except (AttributeError, RuntimeError):
        raise pv.PlanError(f"no op {name}") from None


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return [value]


class PlanExecutor:
    """One candidate's value table and kernels in the runner."""

    def __init__(
        self,
        kernels: KernelSource,
        device: str,
        allowed_ops: frozenset[str] = frozenset(),
        make_kernel: Callable[[Callable[..., Any], Any], Any] | None = None,
        fake: bool = False,
    ) -> None:
        self.device = device
        self.allowed = allowed_ops
        self.fake = fake
        self.values: dict[int, Any] = {}
        self.launches: list[Launch] = []
        self.tuned: dict[tuple[int, str], int] = {}
        self.tuning = False
        self.variants_used: dict[str, set[int]] = {}
        self.kernels = build_namespace(kernels, make_kernel or _interpreted) if not fake else {}
        self.sources = kernels
        self.checked_memory = not fake and make_kernel is None
        """Interpreted kernels: every access is checked against the launch's tensors (:mod:`bounds`)."""
        if self.checked_memory:
            from verifier.plan import bounds

            bounds.install()

    # ---- values ------------------------------------------------------------------------------
    def get(self, vid: int) -> Any:
        try:
            return self.values[vid]
        except KeyError:
            raise pv.PlanError(f"value {vid} does not exist in the runner") from None

    def set(self, vid: int, value: Any) -> None:
        self.values[vid] = value

    def release(self, vids: list[int]) -> None:
        for vid in vids:
            self.values.pop(vid, None)

    def bind_inputs(self, spec: Any, inputs: list[Any]) -> None:
        refs = pv.refs(spec)
        tensors = [v for v in _flat(inputs) if isinstance(v, torch.Tensor)]
        if len(refs) != len(tensors):
            raise pv.PlanError(f"the plan names {len(refs)} input tensor(s); the call has {len(tensors)}")
        for vid, tensor in zip(refs, tensors, strict=True):
            self.values[vid] = tensor

    def _assign(self, spec: Any, out: Any) -> None:
        if isinstance(spec, dict) and set(spec) == {"v"}:
            if not isinstance(out, torch.Tensor):
                raise pv.PlanError("a step's output is not the tensor the plan names")
            self.values[int(spec["v"])] = out
            return
        if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("l", "t"):
            items = next(iter(spec.values()))
            if not isinstance(out, (list, tuple)) or len(out) != len(items):
                raise pv.PlanError("a step's outputs do not have the structure the plan names")
            for s, o in zip(items, out, strict=True):
                self._assign(s, o)
            return
        # literals among the outputs (none expected from allowed ops): nothing to keep

    # ---- running --------------------------------------------------------------------------------
    def run(self, plan: dict[str, Any], inputs: list[Any], call_number: int) -> Any:
        """Execute ``plan`` on ``inputs``; returns what the forward returns, as real values."""
        self.bind_inputs(plan["inputs"], inputs)
        for position, step in enumerate(plan["steps"]):
            if "op" in step:
                fn = resolve_op(step["op"], self.allowed)
                args = [pv.decode(a, self.get) for a in step["args"]]
                kwargs = {str(k): pv.decode(v, self.get) for k, v in step.get("kwargs", {}).items()}
                out = fn(*args, **kwargs)
                self._assign(step["out"], out)
            else:
                self._launch(step, call_number, position)
        return pv.decode(plan["returns"], self.get)

    def _launch(self, step: dict[str, Any], call_number: int, position: int) -> None:
        name = step["launch"]
        variants = step["variants"]
        if self.fake:
            for i, variant in enumerate(variants):
                args = {k: pv.decode(v, self.get) for k, v in variant["args"].items()}
                self.launches.append(Launch(name, i, args, dict(variant.get("options", {}))))
            return
        kernel = self.kernels.get(name)
        if kernel is None:
            raise pv.PlanError(f"`{name}` is not a kernel of the candidate's file")
        if self.tuning and len(variants) > 1:
            index = self.tuned.get((position, name))
            if index is None:
                index = self.tuned[(position, name)] = self._fastest(kernel, variants, name)
        else:
            index = call_number % len(variants)
        self.variants_used.setdefault(name, set()).add(index)
        self._launch_variant(kernel, variants[index], name)

    def _launch_variant(self, kernel: Any, variant: dict[str, Any], name: str = "") -> None:
        args = {k: pv.decode(v, self.get) for k, v in variant["args"].items()}
        grid = tuple(int(g) for g in variant["grid"])
        options = {k: int(v) for k, v in variant.get("options", {}).items()}
        if any(g == 0 for g in grid):
            return
        if self.checked_memory:
            from verifier.plan import traffic
            from verifier.plan.bounds import launch_bounds

            with launch_bounds(args), traffic.launch(name, grid):
                kernel[grid](**args, **options)
        else:
            kernel[grid](**args, **options)

    def _fastest(self, kernel: Any, variants: list[dict[str, Any]], name: str) -> int:
        """The autotuned launch's fastest variant on this GPU (each run after the config's reset and
        restore rules from the file's ``@triton.autotune``)."""
        spec = self.sources.kernels[name].autotune
        reset = spec.reset_to_zero if spec else ()
        restore = spec.restore_value if spec else ()
        best, best_ms = 0, float("inf")
        for i, variant in enumerate(variants):
            args = {k: pv.decode(v, self.get) for k, v in variant["args"].items()}
            saved = {k: args[k].clone() for k in restore if isinstance(args.get(k), torch.Tensor)}
            try:
                ms = _bench(lambda v=variant: self._launch_variant(kernel, v), args, reset, saved)
            except Exception:
                ms = float("inf")  # a config that fails to compile or run is never chosen
            for k, t in saved.items():
                args[k].copy_(t)
            if ms < best_ms:
                best, best_ms = i, ms
        return best


def _bench(run: Callable[[], None], args: dict[str, Any], reset: tuple[str, ...], saved: dict[str, Any]) -> float:
    """Median milliseconds of ``run`` on the GPU after one warm-up run, by the verifier's timing protocol
    (:func:`verifier.worker.timing.timed_phase`: synchronize, L2 flush, events), each run from the
    saved state: how an autotuned launch's config is chosen."""
    from verifier.worker.timing import CudaDevice, timed_phase

    def prepare(_: int) -> None:
        for k in reset:
            if isinstance(args.get(k), torch.Tensor):
                args[k].zero_()
        for k, t in saved.items():
            args[k].copy_(t)

    return timed_phase(lambda _: run(), 1, 10, CudaDevice(), before_each=prepare, min_warmup_ms=0.0).median_ms


def _interpreted(fn: Callable[..., Any], kernel: Any) -> Any:
    from triton.runtime.interpreter import InterpretedFunction

    return InterpretedFunction(fn, **kernel.jit_kwargs)


def jit_kernel(fn: Callable[..., Any], kernel: Any) -> Any:
    """A compiled (``JITFunction``) kernel, whatever ``TRITON_INTERPRET`` says."""
    from triton.runtime.jit import JITFunction

    return JITFunction(fn, **kernel.jit_kwargs)
