"""A loaded kernel pack and the patched forward it gives a model.

``load(DIR)`` reads ``manifest.json``, checks every kernel file against the sha256 it lists (a changed
file is refused, not run), and registers each kernel as a custom op (``kernel.py``). ``apply(model)``
replaces ``model.forward`` (on that instance) with one that, per input signature (shapes, dtypes,
devices), exports the original forward once, splits it into groups (``groups.py``, the same split
``kiln compile`` made) and runs the exported graph with each group whose key the pack holds replaced by
its op; every other op runs as PyTorch ran it. A forward that cannot be exported, a model in training
mode, or one whose export mutates buffers runs the original forward (``model_fallbacks``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils import _pytree as pytree

from kernelkiln.pack.groups import CaptureError, capture, split
from kernelkiln.pack.kernel import InputSpec, PackKernel, call

MANIFEST = "manifest.json"


class PackError(ValueError):
    """The directory is not a usable pack (no manifest, a kernel file that does not match it)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _as_exported(value: Any, node: Any) -> Any:
    """A kernel's output in the memory layout export recorded for its group's output: the ops after it
    were traced against eager's layout (a ``view`` after a transpose needs it: eager's pointwise ops and
    attention keep their input's order, a kernel writes a contiguous output). Copied only where a
    stride of a dimension longer than one differs."""
    want = node.meta.get("val")
    if not (isinstance(value, torch.Tensor) and isinstance(want, torch.Tensor)) or value.shape != want.shape:
        return value
    if all(n < 2 or a == b for n, a, b in zip(value.shape, value.stride(), want.stride(), strict=True)):
        return value
    if any(n > 1 and b == 0 for n, b in zip(want.shape, want.stride(), strict=True)):
        return value  # an overlapping layout is no output's: never written to
    out = torch.empty_strided(tuple(want.shape), tuple(want.stride()), dtype=value.dtype, device=value.device)
    return out.copy_(value)


@dataclass
class _Plan:
    """The exported forward of one input signature, with the groups the pack replaces."""

    exported: Any
    replaced: dict[Any, tuple[PackKernel, list[Any]]]
    """Group output node -> (kernel, the group's input nodes)."""
    interior: set[Any]
    groups: int

    def run(self, model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ep = self.exported
        signature = ep.graph_signature
        state = dict(model.named_parameters(remove_duplicate=False))
        state.update(dict(model.named_buffers(remove_duplicate=False)))
        flat = pytree.tree_flatten((args, kwargs))[0]
        tensors = [a for a in flat if isinstance(a, torch.Tensor)]
        user = iter(tensors if len(tensors) == len(signature.user_inputs) else flat)
        sources = {s.arg.name: s for s in signature.input_specs if hasattr(s.arg, "name")}
        env: dict[Any, Any] = {}
        for node in ep.graph.nodes:
            if node.op == "placeholder":
                spec = sources[node.name]
                kind = spec.kind.name.lower()
                if kind in ("parameter", "buffer"):
                    env[node] = state[spec.target]
                elif kind == "constant_tensor":
                    env[node] = ep.constants[spec.target]
                else:
                    env[node] = next(user)
            elif node.op == "call_function":
                if node in self.replaced:
                    kernel, inputs = self.replaced[node]
                    env[node] = _as_exported(call(kernel.op_name, [env[i] for i in inputs]), node)
                elif node not in self.interior:
                    fn_args = torch.fx.node.map_arg(node.args, env.__getitem__)
                    fn_kwargs = torch.fx.node.map_arg(node.kwargs, env.__getitem__)
                    env[node] = node.target(*fn_args, **fn_kwargs)
            elif node.op == "output":
                outs = torch.fx.node.map_arg(node.args[0], env.__getitem__)
                return pytree.tree_unflatten(list(outs), ep.call_spec.out_spec)
        raise RuntimeError("the exported graph has no output")


@dataclass
class Pack:
    """A loaded pack: its manifest and kernels (by group key)."""

    directory: Path
    manifest: dict[str, Any]
    kernels: dict[str, PackKernel]
    model_fallbacks: int = 0
    last_model_fallback: str = ""
    _plans: dict[Any, _Plan | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- patching -------------------------------------------------------------------------------
    def apply(self, model: torch.nn.Module) -> torch.nn.Module:
        """Patch ``model`` in place: its forward runs the pack's kernels where they were verified."""
        original = type(model).forward.__get__(model)
        pack = self

        def forward(*args: Any, **kwargs: Any) -> Any:
            plan = pack._plan_for(model, args, kwargs)
            if plan is None:
                return original(*args, **kwargs)
            return plan.run(model, args, kwargs)

        model.forward = forward  # type: ignore[method-assign]
        model._kernelkiln_pack = self  # type: ignore[attr-defined]
        return model

    def _signature(self, model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        flat = pytree.tree_flatten((args, kwargs))[0]
        parts = [
            (tuple(a.shape), str(a.dtype), str(a.device)) if isinstance(a, torch.Tensor) else repr(a) for a in flat
        ]
        return (tuple(parts), model.training)

    def _plan_for(self, model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Plan | None:
        if model.training:
            self._model_fallback("the model is in training mode (kernels are verified in eval mode)")
            return None
        if torch.is_grad_enabled() and any(p.requires_grad for p in model.parameters()):
            self._model_fallback("gradients are enabled (kernels are verified forward only): use torch.no_grad()")
            return None
        key = self._signature(model, args, kwargs)
        with self._lock:
            if key not in self._plans:
                self._plans[key] = self._build_plan(model, args, kwargs)
            plan = self._plans[key]
        if plan is None:
            self._model_fallback(self.last_model_fallback or "no plan for these inputs")
        return plan

    def _model_fallback(self, reason: str) -> None:
        self.model_fallbacks += 1
        self.last_model_fallback = reason

    def _build_plan(self, model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Plan | None:
        patched = model.__dict__.pop("forward", None)
        try:
            if kwargs:
                self.last_model_fallback = "keyword arguments to forward are not supported"
                return None
            exported = capture(model, list(args))
        except CaptureError as e:
            self.last_model_fallback = str(e)
            return None
        finally:
            if patched is not None:
                model.forward = patched  # type: ignore[method-assign]
        if exported.graph_signature.buffers_to_mutate:
            self.last_model_fallback = "the forward mutates buffers"
            return None
        cut = split(exported)
        replaced: dict[Any, tuple[PackKernel, list[Any]]] = {}
        interior: set[Any] = set()
        for group in cut.groups:
            kernel = self.kernels.get(group.key)
            if kernel is None:
                continue
            replaced[group.output] = (kernel, list(group.inputs))
            interior.update(group.nodes[:-1])
        return _Plan(exported, replaced, interior, len(cut.groups))

    # -- counts ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``kernel_calls`` and ``fallback_calls`` over the pack's kernels, the same per kernel
        (``per_kernel``), and ``model_fallbacks``: forwards that ran unpatched."""
        per = {k.name: k.stats() for k in self.kernels.values()}
        return {
            "kernel_calls": sum(s["kernel_calls"] for s in per.values()),
            "fallback_calls": sum(s["fallback_calls"] for s in per.values()),
            "model_fallbacks": self.model_fallbacks,
            "per_kernel": per,
        }

    def reset_stats(self) -> None:
        self.model_fallbacks = 0
        for k in self.kernels.values():
            k.kernel_calls = k.fallback_calls = 0


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PackError(f"{directory}: no {MANIFEST} (not a kernel pack)") from None
    except json.JSONDecodeError as e:
        raise PackError(f"{path}: not JSON ({e})") from None


def load(directory: str | Path) -> Pack:
    """Load the pack in ``directory`` (``PackError`` if a file is missing or does not match the manifest)."""
    root = Path(directory)
    manifest = read_manifest(root)
    if any(k.get("device") == "cpu" for k in manifest.get("kernels", [])) and "triton" not in sys.modules:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # CPU-verified kernels run in Triton's interpreter
    kernels: dict[str, PackKernel] = {}
    for entry in manifest.get("kernels", []):
        paths = {}
        for field_name, sha_name in (("kernel_file", "kernel_sha256"), ("group_file", "group_sha256")):
            path = root / entry[field_name]
            try:
                text = path.read_text()
            except OSError as e:
                raise PackError(f"{entry['name']}: cannot read {entry[field_name]}: {e}") from None
            if _sha256(text) != entry[sha_name]:
                raise PackError(f"{entry['name']}: {entry[field_name]} does not match the manifest's sha256")
            paths[field_name] = path
        kernel = PackKernel(
            name=entry["name"],
            key=entry["key"],
            device=entry["device"],
            inputs=[InputSpec(s[0], tuple(s[1]), s[2], s[3] if len(s) > 3 else "") for s in entry["inputs"]],
            kernel_file=paths["kernel_file"],
            group_file=paths["group_file"],
        )
        kernel.build()
        kernels[kernel.key] = kernel
    return Pack(root, manifest, kernels)
