"""Watching which aten ops a candidate's forward dispatches, two independent ways.

1. A ``TorchDispatchMode`` sees every op that reaches the Python dispatch key, with its arguments
   (so device-to-host copies can be told apart from layout copies).
2. The profiler's RecordFunction hooks see every op the dispatcher runs, including composite ops
   and ops run while Python dispatch modes are disabled.

A candidate that hides work from one still shows it to the other; the parent compares both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_COPY_OPS = frozenset({"aten._to_copy", "aten.copy_", "aten.to", "aten._copy_from", "aten._copy_from_and_resize"})


def _devices(value: Any, out: set[str]) -> None:
    if isinstance(value, torch.Tensor):
        out.add(value.device.type)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _devices(v, out)


def op_packet(func: Any) -> str:
    """``aten.convolution`` for an OpOverload such as ``aten.convolution.default``."""
    packet = getattr(func, "overloadpacket", None)
    if packet is not None:
        return f"{packet._qualified_op_name.replace('::', '.')}"
    return str(func)


class DispatchRecorder(TorchDispatchMode):
    """Records op packet names (``aten.convolution``) and cross-device copies, then runs the op."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []
        self.host_copies: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        packet = op_packet(func)
        self.ops.append(packet)
        result = func(*args, **kwargs)
        if packet in _COPY_OPS:
            before: set[str] = set()
            after: set[str] = set()
            _devices(args, before)
            _devices(result, after)
            if "cuda" in before and after == {"cpu"}:
                self.host_copies.append(packet)
        return result


def profiled_op_names(prof: Any) -> list[str]:
    """Op names the profiler recorded, as packets (``aten::conv2d`` -> ``aten.conv2d``)."""
    names = []
    for event in prof.events():
        name = event.name
        if "::" in name:
            names.append(name.replace("::", ".", 1))
    return names


def _set_on_immutable_type(cls: type, name: str, value: object) -> None:
    """``cls.name = value`` for a C type that refuses ``setattr`` (torch._C.TensorBase): through the
    type's own dict, then the method cache is invalidated."""
    import ctypes
    import gc

    namespace = gc.get_referents(cls.__dict__)[0]
    if not isinstance(namespace, dict):  # pragma: no cover - a CPython without a plain type dict
        raise RuntimeError(f"cannot watch {cls.__name__}.{name}: no type dict")
    namespace[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))


def install_host_access_watch(candidate_files: Callable[[], frozenset[str]], scratch: str) -> Callable[[], list[str]]:
    """Wrap the Tensor methods that hand tensor data to host Python code (``numpy``, ``tolist``,
    ``__array__``) so that calls made by candidate code are recorded. Returns ``drain()``, which
    returns and clears what was recorded. Installed before the integrity snapshot.
    """
    import sys

    from verifier.worker.guard import make_candidate_origin

    seen: list[str] = []
    getframe = sys._getframe
    origin = make_candidate_origin(candidate_files, scratch)

    def called_by_candidate() -> str | None:
        return origin(getframe(2))

    def wrap(cls: type, name: str) -> None:
        original = cls.__dict__[name]  # the class's own entry (TensorBase's C method, Tensor's __array__)

        def watched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            where = called_by_candidate()
            if where is not None:
                seen.append(f"Tensor.{name} at {where}")
            return original(self, *args, **kwargs)

        watched.__name__ = name
        if cls is torch.Tensor:
            setattr(cls, name, watched)
        else:
            _set_on_immutable_type(cls, name, watched)

    # The C methods live on torch._C.TensorBase: wrapped there, ``super(torch.Tensor, x).numpy()``
    # and ``type(x).mro()[1].tolist(x)`` reach the watch too, not only ``x.numpy()``.
    for name in ("numpy", "tolist"):
        wrap(torch._C.TensorBase, name)
    wrap(torch.Tensor, "__array__")  # Python, on torch.Tensor (it calls numpy())

    def drain() -> list[str]:
        out = list(seen)
        seen.clear()
        return out

    return drain
