"""The compute lock: framework compute is made impossible in the candidate process, not just observed.

Before candidate code is imported, every operator registered with the dispatcher at that moment
(all namespaces: ``aten``, ``prims``, ``mkldnn``, ``mkldnn_prepacked``, ``mkl``, ``onednn``,
``quantized``, ``sparse``, ``_native``, ``inductor``...) gets, on every backend dispatch key that
computes values (CPU, CUDA, their sparse, quantized, MKL-DNN and nested variants), a kernel that
raises. Only the ops honest launch code needs survive: allocation, fills (random fills included,
for parameter initialisation), views, metadata and layout/dtype copies (:mod:`verifier.allowlist`),
plus what the task allows. Scalar reads (``.item()``, ``float(t)``) are locked too: an honest
forward reads no tensor element on the host.

The registrations are owned by dispatcher library handles whose only reference is a deliberately
leaked reference count: no Python object, frame, closure, global or module refers to them, so no
candidate code can find and reset them, and the original kernels underneath are not callable from
Python. A locked op that is called raises ``RuntimeError`` naming it and records the attempt, so a
fallback fails loudly (and is reported as one) instead of being caught afterwards.

Ops that candidate code registers itself after the lock (``torch.library``) are not framework
compute: whatever they run inside is locked like everything else.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Callable, Iterable

import torch

from verifier.allowlist import DEFAULT_ALLOWED, RANDOM_FILLS, SCALAR_READS

LOCKED_KEYS = (
    "CPU",
    "CUDA",
    "SparseCPU",
    "SparseCUDA",
    "SparseCsrCPU",
    "SparseCsrCUDA",
    "QuantizedCPU",
    "QuantizedCUDA",
    "MkldnnCPU",
    "NestedTensorCPU",
    "NestedTensorCUDA",
)
"""Backend keys whose kernels compute values. Meta (shapes only) and the wrapper keys (autograd,
autocast, functionalize, batching...) end at one of these, so locking here covers them."""


HARNESS_NAMESPACES = frozenset({"profiler"})
"""Namespaces the harness's own recorders use (the profiler's record_function ops)."""

MESSAGE = (
    "kiln: {op} is locked in the candidate process: framework compute (and reading tensor elements on "
    "the host) is not available to a candidate; compute it with your own kernel"
)


def install(extra_allowed: Iterable[str] = ()) -> Callable[[], list[str]]:
    """Lock every framework op except the allowlist; return ``attempts()``, which drains the names of
    locked ops that were called (a tripwire: the lock itself does not depend on it)."""
    allowed = (DEFAULT_ALLOWED | RANDOM_FILLS | frozenset(extra_allowed)) - SCALAR_READS
    attempts: list[str] = []
    record = attempts.append

    def blocker(op: str) -> Callable[..., None]:
        message = MESSAGE.format(op=op)

        def locked(*args: object, **kwargs: object) -> None:
            record(op)
            raise RuntimeError(message)

        return locked

    handles: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel" for each op
        for full_name in torch._C._dispatch_get_all_op_names():
            namespace, _, name = full_name.partition("::")
            packet = f"{namespace}.{name.split('.', 1)[0]}"
            if packet in allowed or namespace in HARNESS_NAMESPACES:
                continue
            handle = handles.get(namespace)
            if handle is None:
                handle = handles[namespace] = torch._C._dispatch_library("IMPL", namespace, "")
            kernel = blocker(packet)
            for key in LOCKED_KEYS:
                handle.impl(name, key, kernel, False)  # type: ignore[attr-defined]
    # The handles deregister their kernels when destroyed. Leak one reference to each and drop
    # every Python reference: the registrations now outlive anything candidate code can reach.
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    for handle in handles.values():
        incref(handle)
    handles.clear()

    def drain() -> list[str]:
        out = list(attempts)
        attempts.clear()
        return out

    return drain


def locked_op_count() -> int:
    """How many (op, key) kernels a lock would install now (for reports and tests)."""
    allowed = (DEFAULT_ALLOWED | RANDOM_FILLS) - SCALAR_READS
    names = torch._C._dispatch_get_all_op_names()
    return sum(
        1
        for n in names
        if f"{n.partition('::')[0]}.{n.partition('::')[2].split('.', 1)[0]}" not in allowed
        and n.partition("::")[0] not in HARNESS_NAMESPACES
    )
