"""The compute lock: framework compute is made impossible in the candidate process, not just observed.

Before the first forward, every operator of every namespace registered with the dispatcher before
candidate code was imported (all of torch's: ``aten``, ``prims``, ``mkldnn``, ``mkldnn_prepacked``,
``mkl``, ``onednn``, ``quantized``, ``sparse``, ``_native``, ``inductor``...) gets, on every backend dispatch key that
computes values (CPU, CUDA, their sparse, quantized, MKL-DNN and nested variants), a kernel that
raises. Only the ops honest launch code needs survive: allocation, fills (random fills included,
for parameter initialisation), views, metadata and layout/dtype copies (:mod:`verifier.allowlist`),
plus what the task allows. Scalar reads (``.item()``, ``float(t)``) are locked too: an honest
forward reads no tensor element on the host.

The lock goes in after the candidate's ``ModelNew`` instances are built (their ``__init__`` may
compute initial parameters; no input exists yet) and before the first forward; :func:`prepare`
captures what it needs before the candidate is imported.

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
CUDA_KEYS = frozenset(k for k in LOCKED_KEYS if "CUDA" in k)
"""Left out where torch was built without CUDA (the CPU wheel): no tensor of theirs can exist in the
process, so no kernel of theirs can run; skipping them takes ~45% off the lock's install time."""


def keys_to_lock(cuda_built: bool) -> tuple[str, ...]:
    return LOCKED_KEYS if cuda_built else tuple(k for k in LOCKED_KEYS if k not in CUDA_KEYS)


HARNESS_NAMESPACES = frozenset({"profiler"})
"""Namespaces the harness's own recorders use (the profiler's record_function ops)."""

MESSAGE = (
    "kiln: {op} is locked in the candidate process: framework compute (and reading tensor elements on "
    "the host) is not available to a candidate; compute it with your own kernel"
)


def prepare() -> Callable[[Iterable[str]], Callable[[], list[str]]]:
    """Capture, before any candidate code runs, everything the lock needs, and return ``install``.

    The lock itself is installed after the candidate's instances are constructed and before the
    first forward (an honest ``__init__`` may compute its own initial parameters, which the
    reference's then replace); the dispatcher functions it calls, the op names and namespaces that
    exist now (torch's own) are taken here, so candidate code run in between cannot redirect it.
    ``install`` then verifies that the lock is in force with an op captured now as well."""
    dispatch_library = torch._C._dispatch_library
    all_op_names = torch._C._dispatch_get_all_op_names
    impl = torch._C._DispatchModule.impl
    framework = frozenset(n.partition("::")[0] for n in all_op_names()) - HARNESS_NAMESPACES
    probe_mul = torch._C._VariableFunctions.mul
    locked_keys = keys_to_lock(torch.backends.cuda.is_built())
    probe_input = torch.ones(2)
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    catch_warnings, simplefilter = warnings.catch_warnings, warnings.simplefilter
    runtime_error = RuntimeError

    def install(extra_allowed: Iterable[str] = ()) -> Callable[[], list[str]]:
        allowed = (DEFAULT_ALLOWED | RANDOM_FILLS | frozenset(extra_allowed)) - SCALAR_READS
        attempts: list[str] = []
        record = attempts.append

        def blocker(op: str) -> Callable[..., None]:
            message = MESSAGE.format(op=op)

            def locked(*args: object, **kwargs: object) -> None:
                record(op)
                raise runtime_error(message)

            return locked

        handles: dict[str, object] = {}
        with catch_warnings():
            simplefilter("ignore")  # "overriding a previously registered kernel" for each op
            for full_name in all_op_names():
                namespace, _, name = full_name.partition("::")
                packet = f"{namespace}.{name.split('.', 1)[0]}"
                if packet in allowed or namespace not in framework:
                    continue
                handle = handles.get(namespace)
                if handle is None:
                    handle = handles[namespace] = dispatch_library("IMPL", namespace, "")
                kernel = blocker(packet)
                for key in locked_keys:
                    impl(handle, name, key, kernel, False)
        # The handles deregister their kernels when destroyed. Leak one reference to each and drop
        # every Python reference: the registrations outlive anything candidate code can reach.
        for handle in handles.values():
            incref(handle)
        handles.clear()
        try:
            probe_mul(probe_input, probe_input)
        except runtime_error:
            attempts.clear()
        else:
            raise runtime_error(
                "the compute lock is not in force after installing it (the dispatcher was tampered with)"
            )

        def drain() -> list[str]:
            out = list(attempts)
            attempts.clear()
            return out

        return drain

    return install
