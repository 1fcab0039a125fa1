"""Ahead-of-time Triton builds for an NVIDIA target on a host without a GPU, and what the cubin says.

``triton.compile`` lowers a kernel all the way to a cubin (TTIR -> TTGIR -> LLVM IR -> PTX -> ptxas) with
no driver and no device when it is given a :class:`GPUTarget`. :func:`compile_for_gpu` does that for a
plain Python kernel function and inspects the cubin with the ``cuobjdump``/``nvdisasm`` that ship inside
the Triton wheel (``triton/backends/nvidia/bin``): registers, stack/local/static shared bytes, spill
bytes, the tensor-core instructions in the SASS. A kernel that fails to compile is a result
(``ok=False`` with the compiler's message), not an exception; misuse (a signature that does not match
the function, unknown options, a source that cannot be read) raises.

Usage::

    build = compile_for_gpu(add_kernel, "add_kernel",
                            {"x_ptr": "*fp32", "o_ptr": "*fp32", "n": "i32", "BLOCK": "constexpr"},
                            {"BLOCK": 1024}, {"num_warps": 4, "num_stages": 3})
    build.summary()  # 'add_kernel: 30 regs, 0 spills, 0 B shared, no tensor cores'

The kernel function and its helpers
    ``fn`` is the undecorated function (its source must be readable by ``inspect.getsourcelines``, i.e.
    the file or a ``linecache`` entry). A real :class:`triton.runtime.jit.JITFunction` is built from it
    here, whatever ``TRITON_INTERPRET`` says (under ``TRITON_INTERPRET=1``, ``@triton.jit`` returns an
    ``InterpretedFunction``, which cannot be compiled). Triton resolves every other name the kernel
    uses in the function's globals, so ``@triton.jit`` helpers the kernel calls must be bound there to
    ``JITFunction`` objects: pass them in ``globals_override`` (laid over ``fn.__globals__`` in a copy;
    the caller's module is never touched), e.g. ``globals_override=jit_helpers({"helper": helper})``.
    A helper bound to an ``InterpretedFunction`` is refused (``TypeError``); one bound to a plain
    Python function is the kernel's error (``ok=False``, "Unsupported function referenced").

What the numbers are
    ``registers``, ``stack_bytes``, ``local_bytes``, ``static_shared_bytes``: ``cuobjdump -res-usage``
    for the kernel's entry function. ``shared_bytes``: Triton's ``metadata.shared``, the dynamic shared
    memory the launch asks for (what limits occupancy; the static figure on sm_90 is the 1 KiB the
    system reserves). ``spill_store_bytes``/``spill_load_bytes``: ptxas's ``-v`` figures are not kept
    in the cubin (Triton discards ptxas's log), so they are summed from the SASS: the bytes written by
    ``STL`` and read by ``LDL`` instructions (4 bytes each, ``.64`` 8, ``.128`` 16, ``.U8/.S8`` 1,
    ``.U16/.S16`` 2). A Triton kernel uses local memory only for spills (and ``device_print``'s
    argument buffer), and on a spilling 256x256 ``tl.dot`` kernel these sums equal ptxas's "bytes spill
    stores/loads" exactly. ``tensor_core_ops``: count per SASS mnemonic ending in ``MMA`` (``HMMA``,
    ``IMMA``, ``DMMA``, ``HGMMA``, ``IGMMA``, ``QGMMA``, ``UTCHMMA``, ``UTCQMMA``...). A missing tool leaves
    its fields ``None`` with a note.

Launch-time specialisation is not reproduced
    At launch, Triton's JIT marks pointers and integers that are multiples of 16 with
    ``tt.divisibility=16`` (wider vector loads) and may specialise an integer equal to 1 to a constexpr.
    Here nothing is assumed unless asked: ``divisible_by_16`` names the arguments to mark (torch
    allocations are 256-byte aligned, so tensor pointers qualify; sizes only when the caller knows).

Triton 3.6 (the GPU host) and 3.9 (this host), from their sources (3.6.0 and 3.9.0 wheels)
    - ``ASTSource(fn, signature, constexprs=None, attrs=None)``: identical. ``signature`` maps every
      argument name (str keys only, else ``TypeError``) to a type string (``"*fp16"``, ``"i32"``,
      ``"constexpr"``); the code generator places them by ``fn.arg_names.index(name)``, so order does
      not matter but a missing argument does. ``constexprs`` is keyed by name (turned into the path
      ``(index,)``) or by a tuple path; values are plain Python values or ``tl.dtype``s. ``attrs`` maps a
      path to ``[["tt.divisibility", 16]]``. ``GPUTarget(backend, arch, warp_size)`` and
      ``triton.compile(src, target=None, options=None, _env_vars=None)``: identical.
    - ``CompiledKernel.asm``: ``source, ttir, ttgir, llir, ptx, cubin`` in both. ``metadata`` (a named
      tuple) gains ``clc``, ``fpsan_homomorphic_casts``, ``min_shared_mem``, ``sched4reg`` in 3.9;
      ``shared``, ``num_warps``, ``num_stages``, ``num_ctas``, ``maxnreg``, ``name``, ``triton_version`` in
      both.
    - Options (``CUDAOptions``; unknown names are silently ignored by Triton, refused here): 3.9 adds
      ``sched4reg``, ``clc``, ``fpsan_homomorphic_casts``, ``min_shared_mem``. ``enable_fp_fusion``
      defaults to ``TRITON_DEFAULT_FP_FUSION`` (true) in both, but 3.9 warns when it is left unset
      (its default becomes false in 3.10): pass it explicitly to get the same code on both.
    - ptxas: 3.6 runs ``ptxas`` (CUDA 12.8) below sm_100 and ``ptxas-blackwell`` (12.9) from sm_100;
      3.9 runs ``ptxas-blackwell`` (CUDA 13.4) from sm_90 and adds ``--regAllocOptLevel=2``. The same
      kernel therefore gets somewhat different register/spill figures on the two versions.
    - ``JITFunction(fn, version, do_not_specialize, do_not_specialize_on_alignment, debug, noinline, repr,
      launch_metadata)`` in both; ``.fn`` the plain function, ``.arg_names`` the parameter names,
      ``.params`` ``KernelParam``s (``.num``, ``.name``, ``.is_constexpr`` from a ``constexpr``
      annotation, ``.default``/``.has_default``, ``.do_not_specialize``), ``.constexprs`` the indices of
      the constexpr parameters, ``.signature`` an ``inspect.Signature``, ``.__globals__`` is
      ``fn.__globals__``. 3.9 refuses ``**kwargs`` parameters, registers each JITFunction by
      ``module:qualname`` (for preload), lets closure variables shadow globals and keeps globals whose
      value is ``None`` when hashing dependencies (3.6 looks in globals first and skips ``None``).
    - ``Autotuner``: ``.fn`` (the wrapped JITFunction or Heuristics), ``.base_fn`` (the plain function),
      ``.arg_names``, ``.configs`` (``[Config({}, num_warps=4, num_stages=3, num_ctas=1)]`` when none),
      ``.keys`` (the ``key=`` names; plural attribute), ``.reset_to_zero`` and ``.restore_value`` (lists),
      ``.pre_hook``/``.post_hook``, ``.cache``. 3.9 raises ``ValueError`` when a key/reset/restore name is
      not an argument, initialises ``.restore_copies``, skips benchmarking for a single config.
    - ``Config(kwargs, num_warps=4, num_stages=3, num_ctas=1, maxnreg=None, pre_hook=None,
      ir_override=None)``: same attributes in both; ``all_kwargs()`` is ``kwargs`` plus those of
      ``num_warps, num_ctas, num_stages, maxnreg, ir_override`` that are not ``None``.
    - ``Heuristics(fn, arg_names, values)``: ``.fn``, ``.arg_names``, ``.values`` (name -> callable taking
      a dict of the launch arguments) in both.
    - ``InterpretedFunction(fn, **jit_kwargs)``: ``.fn``, ``.kwargs`` (the ``@triton.jit`` keywords),
      ``.arg_names``, ``.pre_run_hooks``; no ``.params``/``.constexprs``/``.signature``. Identical in both.
    - Python ints take ``i32`` when in int32, ``i64`` up to 2**63-1, ``u64`` up to 2**64-1 (larger:
      ``OverflowError``); ``bool`` is ``u1`` (Triton canonicalises ``i1`` to ``u1``; same type); floats
      ``fp32``; ``None`` ``constexpr``; a ``torch.bool`` tensor is ``*u1``. Same in both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triton.runtime.jit import JITFunction

__all__ = [
    "KernelBuild",
    "build_key",
    "compile_for_gpu",
    "jit_helpers",
    "triton_signature",
]

ERROR_LIMIT = 4000
"""Characters of a compiler message kept in :attr:`KernelBuild.error` (head and tail around a cut)."""

TOOL_TIMEOUT_S = 120

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1

# torch dtype name -> Triton's element type (Triton's own table, triton._utils.type_canonicalisation_dict)
_TORCH_ELEMENT = {
    "float32": "fp32",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float64": "fp64",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "u1",
    "float8_e4m3fn": "fp8e4nv",
    "float8_e5m2": "fp8e5",
    "float8_e4m3fnuz": "fp8e4b8",
    "float8_e5m2fnuz": "fp8e5b16",
}

_JIT_KWARGS = frozenset(
    {"version", "do_not_specialize", "do_not_specialize_on_alignment", "debug", "noinline", "repr", "launch_metadata"}
)


def triton_signature(value: Any) -> str:
    """The Triton signature type of one launch argument, described without real data.

    - a ``torch.dtype``, or any tensor (fake/meta ones included: only ``.dtype`` is read) -> a pointer:
      ``torch.float32 -> "*fp32"``, ``float16 "*fp16"``, ``bfloat16 "*bf16"``, ``int8..int64 "*i8".."*i64"``,
      ``uint8 "*u8"``, ``bool "*u1"``, float8 types as Triton names them;
    - ``bool`` -> ``"u1"`` (Triton's spelling of ``i1``); ``int`` -> ``"i32"`` within int32, ``"i64"``
      within int64, ``"u64"`` up to 2**64-1 (Triton's rule); ``float`` -> ``"fp32"``;
    - ``None`` -> ``"constexpr"``.

    Raises ``TypeError`` for anything else (complex dtypes, strings, Triton dtypes) and ``ValueError``
    for an int beyond 64 bits.
    """
    import torch

    if value is None:
        return "constexpr"
    if isinstance(value, bool):
        return "u1"
    if isinstance(value, int):
        if _INT32[0] <= value <= _INT32[1]:
            return "i32"
        if _INT64[0] <= value <= _INT64[1]:
            return "i64"
        if 0 <= value <= _UINT64_MAX:
            return "u64"
        raise ValueError(f"integer {value} does not fit in 64 bits")
    if isinstance(value, float):
        return "fp32"
    dtype = value if isinstance(value, torch.dtype) else getattr(value, "dtype", None)
    if isinstance(dtype, torch.dtype):
        element = _TORCH_ELEMENT.get(str(dtype).removeprefix("torch."))
        if element is None:
            raise TypeError(f"Triton has no pointer type for {dtype}")
        return "*" + element
    raise TypeError(f"no Triton signature type for {type(value).__name__} {value!r}")


@dataclass
class KernelBuild:
    """One ahead-of-time build of a kernel and what its cubin says (``None``: not known)."""

    name: str
    target: str
    signature: dict[str, str]
    constexprs: dict[str, Any]
    options: dict[str, Any]
    ok: bool
    error: str | None = None
    seconds: float = 0.0
    """Wall time of ``triton.compile`` (a hit in Triton's on-disk cache makes it short)."""
    inspect_seconds: float = 0.0
    triton_version: str = ""
    divisible_by_16: list[str] = field(default_factory=list)
    registers: int | None = None
    spill_store_bytes: int | None = None
    spill_load_bytes: int | None = None
    stack_bytes: int | None = None
    local_bytes: int | None = None
    static_shared_bytes: int | None = None
    shared_bytes: int | None = None
    """Triton's ``metadata.shared``: the dynamic shared memory the kernel is launched with."""
    tensor_core_ops: dict[str, int] | None = None
    sass_instructions: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def uses_tensor_cores(self) -> bool | None:
        return None if self.tensor_core_ops is None else bool(self.tensor_core_ops)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line, e.g. ``"_k0: 40 regs, 0 spills, 0 B shared, HGMMA"``."""
        if not self.ok:
            return f"{self.name}: failed to compile for {self.target}: {_reason(self.error or '')[:200]}"
        parts = [f"{_unknown(self.registers)} regs"]
        if self.spill_store_bytes is None or self.spill_load_bytes is None:
            parts.append("? spills")
        elif self.spill_store_bytes == self.spill_load_bytes == 0:
            parts.append("0 spills")
        else:
            parts.append(f"spills {self.spill_store_bytes} B stored / {self.spill_load_bytes} B loaded")
        parts.append(f"{_unknown(self.shared_bytes)} B shared")
        if self.tensor_core_ops is None:
            parts.append("tensor cores ?")
        elif self.tensor_core_ops:
            parts.append(" ".join(sorted(self.tensor_core_ops)))
        else:
            parts.append("no tensor cores")
        return f"{self.name}: " + ", ".join(parts)


def _reason(error: str) -> str:
    """The line of a compiler message that says what went wrong: ptxas's first fatal/error line, else the
    last ``SomethingError(...)``/``SomethingError: ...`` line, else the last line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    ptxas = [line for line in lines if re.match(r"ptxas\S*\s+(fatal|error)", line)]
    if ptxas:
        return re.sub(r"\s+", " ", ptxas[0])
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    return (errors or lines or ["failed"])[-1]


def _unknown(value: int | None) -> str:
    return "?" if value is None else str(value)


def jit_helpers(functions: Mapping[str, Callable[..., Any]], **jit_kwargs: Any) -> dict[str, JITFunction]:
    """``name -> JITFunction`` for the ``@triton.jit`` helpers a kernel calls, for ``globals_override``.

    Each value may be the plain function, or an ``InterpretedFunction``/``JITFunction`` (its ``.fn`` is
    taken; an ``InterpretedFunction``'s own ``@triton.jit`` keywords are kept unless ``jit_kwargs``
    overrides them). Each helper is rebuilt over a copy of its own globals in which every name of
    ``functions`` is bound to its new JITFunction, so helpers may call each other.
    """
    from triton.runtime.jit import JITFunction

    _check_jit_kwargs(jit_kwargs)
    built: dict[str, JITFunction] = {}
    scopes: list[dict[str, Any]] = []
    for name, value in functions.items():
        plain, own_kwargs = _plain_function(value)
        scope = dict(plain.__globals__)
        scopes.append(scope)
        built[name] = JITFunction(_rebind(plain, scope), **{**own_kwargs, **jit_kwargs})
    for scope in scopes:
        scope.update(built)
    return built


def build_key(
    source_text: str,
    name: str,
    signature: Mapping[str, str],
    constexprs: Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
    arch: int | str = 90,
    *,
    jit_kwargs: Mapping[str, Any] | None = None,
    divisible_by_16: Iterable[str] = (),
) -> str:
    """A sha256 (hex) over everything that decides a build's result, for a cache kept by the caller.

    ``source_text`` is the text the kernel is compiled from, helpers included (e.g. the candidate file).
    Also hashed: the Triton version and the environment variables Triton itself counts as changing a
    compile (``TRITON_DEFAULT_FP_FUSION``...). The order of a mapping does not count (Triton places the
    arguments by name).
    """
    import triton

    payload = {
        "source": source_text,
        "name": name,
        "signature": dict(signature),
        "constexprs": _jsonable(dict(constexprs or {})),
        "options": _jsonable(dict(options or {})),
        "arch": _arch_number(arch),
        "jit_kwargs": _jsonable(dict(jit_kwargs or {})),
        "divisible_by_16": sorted(divisible_by_16),
        "triton": triton.__version__,
        "env": _cache_env_vars(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def compile_for_gpu(
    fn: Callable[..., Any],
    name: str,
    signature: Mapping[str, str],
    constexprs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    jit_kwargs: Mapping[str, Any] | None = None,
    arch: int | str = 90,
    globals_override: Mapping[str, Any] | None = None,
    *,
    divisible_by_16: Iterable[str] = (),
    read_sass: bool = False,
) -> KernelBuild:
    """Compile ``fn`` with Triton for ``sm_<arch>`` (no GPU needed) and inspect the cubin.

    ``fn``: the plain kernel function (a ``JITFunction``/``InterpretedFunction`` is unwrapped to its
    ``.fn``). ``name``: the kernel's label in the result (usually ``fn.__name__``). ``signature``: every
    parameter of ``fn`` -> its Triton type (:func:`triton_signature`), ``"constexpr"`` for constexprs.
    ``constexprs``: values of the ``"constexpr"`` entries (a parameter's default fills a missing one).
    ``options``: Triton compile options (``num_warps``, ``num_stages``, ``num_ctas``, ``maxnreg``,
    ``enable_fp_fusion``, ``debug``...). ``jit_kwargs``: ``@triton.jit`` keywords (``debug``,
    ``noinline``...; ``debug=True`` becomes the ``debug`` option as at launch). ``globals_override``:
    names laid over ``fn.__globals__`` (bind the kernel's ``@triton.jit`` helpers to JITFunctions
    here, see :func:`jit_helpers`). ``divisible_by_16``: arguments to mark ``tt.divisibility=16``.
    ``read_sass``: always disassemble (instruction count, exact spill bytes); by default the SASS is read
    only for kernels with stack or local memory (see :func:`_inspect_cubin`).

    Never raises for a kernel that does not compile (``ok=False``, ``error`` names the construct and
    the kernel line); raises ``TypeError``/``ValueError`` for misuse.
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.runtime.jit import JITFunction

    plain, own_kwargs = _plain_function(fn)
    jit_kw = {**own_kwargs, **dict(jit_kwargs or {})}
    _check_jit_kwargs(jit_kw)
    capability = _arch_number(arch)
    try:
        source_lines, _ = inspect.getsourcelines(plain)
    except (OSError, TypeError) as exc:
        raise ValueError(f"the source of {plain.__qualname__} cannot be read (inspect/linecache): {exc}") from exc

    params = list(inspect.signature(plain).parameters.values())
    param_names = [p.name for p in params]
    if not isinstance(signature, Mapping) or set(signature) != set(param_names):
        given = list(signature) if isinstance(signature, Mapping) else signature
        raise ValueError(f"signature must name exactly the parameters {param_names} of {plain.__name__}, got {given}")
    sig = {p: signature[p] for p in param_names}
    for arg, ty in sig.items():
        if not isinstance(ty, str) or not ty.strip():
            raise TypeError(f"signature[{arg!r}] must be a Triton type string, got {ty!r}")

    consts = dict(constexprs or {})
    for arg in consts:
        if sig.get(arg) != "constexpr":
            raise ValueError(f"constexprs[{arg!r}] given but signature[{arg!r}] is {sig.get(arg)!r}, not 'constexpr'")
    for p in params:
        if sig[p.name] == "constexpr" and p.name not in consts:
            if p.default is inspect.Parameter.empty:
                raise ValueError(f"constexpr {p.name!r} has no value and no default")
            consts[p.name] = p.default
    consts = {p: consts[p] for p in param_names if p in consts}

    divisible = list(dict.fromkeys(divisible_by_16))
    for arg in divisible:
        if arg not in sig or sig[arg] == "constexpr":
            raise ValueError(f"divisible_by_16 names {arg!r}, which is not a runtime argument of {plain.__name__}")

    target = GPUTarget("cuda", capability, 32)
    opts = dict(options or {})
    if jit_kw.get("debug") and "debug" not in opts:
        opts["debug"] = True
    _check_options(target, opts)

    scope = {**plain.__globals__, **dict(globals_override or {})}
    interpreted = sorted(n for n in _referenced_names(plain.__code__) if _is_interpreted(scope.get(n)))
    if interpreted:
        raise TypeError(
            f"{plain.__name__} calls {interpreted}, bound to InterpretedFunction (TRITON_INTERPRET=1): bind them "
            "to JITFunctions in globals_override (see jit_helpers)"
        )

    build = KernelBuild(
        name=name,
        target=f"sm_{capability}",
        signature=sig,
        constexprs=_jsonable(consts),
        options=_jsonable(opts),
        ok=False,
        triton_version=triton.__version__,
        divisible_by_16=divisible,
    )
    printed = io.StringIO()
    started = time.perf_counter()
    try:
        jit_fn = JITFunction(_rebind(plain, scope), **jit_kw)
        attrs = {(param_names.index(arg),): [["tt.divisibility", 16]] for arg in divisible}
        src = ASTSource(fn=jit_fn, signature=sig, constexprs=consts, attrs=attrs)
        # on a ptxas failure Triton prints the whole PTX to stdout (the exception carries ptxas's message)
        with contextlib.redirect_stdout(printed):
            kernel = triton.compile(src, target=target, options=opts)
    except Exception as exc:
        build.seconds = round(time.perf_counter() - started, 4)
        build.error = _error_text(exc, source_lines)
        return build
    build.seconds = round(time.perf_counter() - started, 4)
    if printed.getvalue():
        sys.stdout.write(printed.getvalue())
    build.ok = True
    metadata = kernel.metadata
    build.shared_bytes = getattr(metadata, "shared", None)
    started = time.perf_counter()
    ptx = None if read_sass else kernel.asm.get("ptx")
    _inspect_cubin(build, kernel.asm.get("cubin"), getattr(metadata, "name", plain.__name__), ptx)
    build.inspect_seconds = round(time.perf_counter() - started, 4)
    return build


# --- the function, the options ---------------------------------------------------------------------


def _plain_function(value: Any) -> tuple[types.FunctionType, dict[str, Any]]:
    """The Python function behind ``value`` and the ``@triton.jit`` keywords it carried (if any)."""
    from triton.runtime.jit import JITFunction

    own: dict[str, Any] = {}
    if _is_interpreted(value):
        own = {k: v for k, v in value.kwargs.items() if v is not None}
        value = value.fn
    elif isinstance(value, JITFunction):
        value = value.fn
    if not isinstance(value, types.FunctionType):
        raise TypeError(f"expected a plain Python function, got {type(value).__name__}")
    return value, own


def _is_interpreted(value: Any) -> bool:
    """An ``InterpretedFunction`` (what ``@triton.jit`` returns under ``TRITON_INTERPRET=1``), told by its
    class so that Triton's interpreter module (which imports numpy) is not imported for the check."""
    kind = type(value)
    return kind.__name__ == "InterpretedFunction" and kind.__module__.startswith("triton.")


def _rebind(fn: types.FunctionType, scope: dict[str, Any]) -> types.FunctionType:
    """``fn`` over another globals dict: same code object (so the same source and line numbers)."""
    new = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__annotations__ = dict(fn.__annotations__)
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    return new


def _check_jit_kwargs(jit_kwargs: Mapping[str, Any]) -> None:
    unknown = sorted(set(jit_kwargs) - _JIT_KWARGS)
    if unknown:
        raise TypeError(f"unknown @triton.jit keywords {unknown}; known: {sorted(_JIT_KWARGS)}")


def _check_options(target: Any, options: Mapping[str, Any]) -> None:
    """Triton ignores option names it does not know; a typo here would silently build something else."""
    from triton.compiler.compiler import make_backend

    # enable_fp_fusion given: Triton 3.9 warns when it is left to its default
    known = {f.name for f in dataclasses.fields(make_backend(target).parse_options({"enable_fp_fusion": True}))}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown Triton options {unknown} for {target}; known: {sorted(known)}")


def _arch_number(arch: int | str) -> int:
    if isinstance(arch, bool) or not isinstance(arch, int | str):
        raise TypeError(f"arch must be an int like 90 or a string like 'sm_90', got {arch!r}")
    match = re.fullmatch(r"(?:sm_?)?(\d+)a?", str(arch).strip())
    if not match or int(match.group(1)) < 50:
        raise ValueError(f"not an NVIDIA architecture: {arch!r}")
    return int(match.group(1))


def _referenced_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _referenced_names(const)
    return names


def _cache_env_vars() -> dict[str, str]:
    try:
        from triton._C.libtriton import get_cache_invalidating_env_vars
    except ImportError:  # pragma: no cover - older/newer layouts
        return {}
    return dict(get_cache_invalidating_env_vars())


def _jsonable(value: Any) -> Any:
    """Constexpr/option values as JSON: Triton dtypes by name, ``tl.constexpr`` unwrapped, tuples as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    kind = type(value)
    if kind.__name__ == "constexpr" and hasattr(value, "value"):
        return _jsonable(value.value)
    if kind.__module__.startswith(("triton", "torch")) and "dtype" in kind.__name__:
        return str(value)
    if isinstance(value, types.FunctionType) or hasattr(value, "fn"):
        fn = getattr(value, "fn", value)
        return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', kind.__qualname__)}"
    return repr(value)


# --- the compiler's message -----------------------------------------------------------------------------

_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+>")
_UNSUPPORTED = re.compile(r"Unsupported function referenced: <function ((?:\w|\.|<locals>)+)")


def _error_text(exc: BaseException, source_lines: list[str]) -> str:
    """The messages of ``exc`` and its causes (a helper's error is the cause of the caller's), without
    object addresses; for an unsupported Python function, the kernel lines that call it; trimmed."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 6:
        seen.add(id(current))
        text = str(current).strip()
        if type(current).__name__ != "CompilationError":
            text = f"{type(current).__name__}: {text}" if text else type(current).__name__
        text = _ADDRESS.sub(">", text)
        if not any(_strip_kind(text) in earlier for earlier in parts):
            parts.append(text)
        current = current.__cause__  # explicit chaining only: a helper's error under its caller's
    message = "\n".join(parts)
    match = _UNSUPPORTED.search(message)
    if match:
        called = match.group(1).rsplit(".", 1)[-1]
        pattern = re.compile(rf"\b{re.escape(called)}\s*\(")
        offset = next((i for i, line in enumerate(source_lines) if line.lstrip().startswith("def ")), 0)
        lines = [
            f"  kernel line {i - offset + 1}: {line.strip()}"
            for i, line in enumerate(source_lines)
            if i > offset and pattern.search(line)
        ]
        if lines:
            message += f"\n{called} is a Python function, not @triton.jit; called at:\n" + "\n".join(lines[:5])
    return _trim(message)


def _strip_kind(text: str) -> str:
    return text.split(": ", 1)[-1]


def _trim(text: str, limit: int = ERROR_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head - 40
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[-tail:]}"


# --- the cubin ------------------------------------------------------------------------------------------

_RES_FUNCTION = re.compile(r"^\s*Function\s+(\S+?):\s*$")
_RES_FIELD = re.compile(r"([A-Z]+(?:\[\d+\])?):(\d+)")
_SASS_LINE = re.compile(r"^\s*/\*[0-9a-fA-F]+\*/\s+(?P<body>[^;]*);")
_PREDICATE = re.compile(r"^@!?U?P(?:T|\d+)\s+")
_WIDTH = {"64": 8, "128": 16, "U8": 1, "S8": 1, "U16": 2, "S16": 2}


def _tool(name: str) -> str | None:
    """Triton's own copy of an NVIDIA tool (``TRITON_<NAME>_PATH`` or the wheel's), else PATH's."""
    with contextlib.suppress(Exception):
        import triton

        path = getattr(triton.knobs.nvidia, name).path
        if path and os.path.exists(path):
            return path
    return shutil.which(name)


def _run_tool(args: list[str]) -> tuple[str | None, str | None]:
    """(stdout, None) or (None, why not)."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{os.path.basename(args[0])} did not run: {exc}"
    if done.returncode != 0:
        return None, f"{os.path.basename(args[0])} exited {done.returncode}: {done.stderr.strip()[:300]}"
    return done.stdout, None


_PTX_MMA = re.compile(r"^\s*(?:@!?%\w+\s+)?(wgmma\.mma_async|mma\.sync)\S*", re.M)


def _ptx_tensor_cores(ptx: str) -> dict[str, int]:
    """Tensor-core instructions by the SASS family their PTX becomes (``wgmma.mma_async`` -> HGMMA/IGMMA/
    QGMMA, ``mma.sync`` -> HMMA/IMMA/DMMA), counted per PTX instruction."""
    found: dict[str, int] = {}
    for match in _PTX_MMA.finditer(ptx):
        line = ptx[match.start() : ptx.find("\n", match.start())]
        integer = any(t in line for t in (".s8", ".u8", ".s4", ".u4"))
        fp8 = any(t in line for t in (".e4m3", ".e5m2"))
        if match.group(1).startswith("wgmma"):
            name = "IGMMA" if integer else "QGMMA" if fp8 else "HGMMA"
        else:
            name = "IMMA" if integer else "DMMA" if ".f64" in line else "HMMA"
        found[name] = found.get(name, 0) + 1
    return dict(sorted(found.items()))


def _inspect_cubin(build: KernelBuild, cubin: bytes | None, entry: str, ptx: str | None = None) -> None:
    """Resources from ``cuobjdump -res-usage`` (milliseconds). The SASS (half a second of disassembler
    start-up) is read only when the kernel uses stack or local memory, where spills can hide; otherwise
    spills are zero and tensor-core instructions are read from the PTX."""
    if not cubin:
        build.notes.append("Triton produced no cubin")
        return
    with tempfile.TemporaryDirectory(prefix="kiln_cubin_") as tmp:
        path = os.path.join(tmp, f"{re.sub(r'[^A-Za-z0-9_]', '_', entry)[:60] or 'kernel'}.cubin")
        with open(path, "wb") as out:
            out.write(cubin)
        cuobjdump = _tool("cuobjdump")
        if cuobjdump is None:
            build.notes.append("cuobjdump not found: registers/stack/local/static shared unknown")
        else:
            text, why = _run_tool([cuobjdump, "-res-usage", path])
            if text is None:
                build.notes.append(why or "cuobjdump failed")
            else:
                _apply_resource_usage(build, text, entry)
        if ptx and build.stack_bytes == 0 and build.local_bytes == 0:
            build.spill_store_bytes = build.spill_load_bytes = 0
            build.tensor_core_ops = _ptx_tensor_cores(ptx)
            build.notes.append("no stack or local memory: no spills; tensor-core instructions read from the PTX")
            return
        sass, why = None, None
        nvdisasm = _tool("nvdisasm")
        if nvdisasm is not None:
            sass, why = _run_tool([nvdisasm, "-c", path])
        if sass is None and cuobjdump is not None:
            sass, why_cuobjdump = _run_tool([cuobjdump, "-sass", path])
            why = why or why_cuobjdump
        if sass is None:
            build.notes.append(why or "neither nvdisasm nor cuobjdump found: no SASS, spills/tensor cores unknown")
            return
        _apply_sass(build, sass)


def _apply_resource_usage(build: KernelBuild, text: str, entry: str) -> None:
    functions: dict[str, dict[str, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        header = _RES_FUNCTION.match(line)
        if header:
            current = header.group(1)
            functions[current] = {}
        elif current is not None:
            functions[current].update({k: int(v) for k, v in _RES_FIELD.findall(line)})
    usage = functions.get(entry) or next(iter(functions.values()), None)
    if not usage:
        build.notes.append("cuobjdump -res-usage listed no function")
        return
    if entry not in functions:
        build.notes.append(f"cuobjdump lists no function {entry!r}; used {next(iter(functions))!r}")
    if len(functions) > 1:
        build.notes.append(f"the cubin has {len(functions)} functions; figures are the entry's")
    build.registers = usage.get("REG")
    build.stack_bytes = usage.get("STACK")
    build.local_bytes = usage.get("LOCAL")
    build.static_shared_bytes = usage.get("SHARED")


def _apply_sass(build: KernelBuild, sass: str) -> None:
    count = 0
    stored = loaded = 0
    mma: dict[str, int] = {}
    for line in sass.splitlines():
        match = _SASS_LINE.match(line)
        if not match:
            continue
        body = _PREDICATE.sub("", match.group("body").strip())
        if not body:
            continue
        opcode = body.split()[0]
        mnemonic, *modifiers = opcode.split(".")
        count += 1
        if mnemonic in ("STL", "LDL"):
            width = next((_WIDTH[m] for m in modifiers if m in _WIDTH), 4)
            if mnemonic == "STL":
                stored += width
            else:
                loaded += width
        elif mnemonic.endswith("MMA"):
            mma[mnemonic] = mma.get(mnemonic, 0) + 1
    if count == 0:
        build.notes.append("no SASS instruction could be read")
        return
    build.sass_instructions = count
    build.spill_store_bytes = stored
    build.spill_load_bytes = loaded
    build.tensor_core_ops = dict(sorted(mma.items()))
