"""What the verifier is asked to check: a reference op, a candidate kernel, and the options.

These are plain data (JSON-friendly) because they cross process boundaries: the trusted parent
sends them to the sandboxed reference and candidate workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

Language = Literal["triton", "cuda", "auto"]
DeviceChoice = Literal["auto", "cpu", "cuda"]
SandboxChoice = Literal["auto", "docker", "bwrap", "unshare", "none"]
Mode = Literal["forward", "backward", "both"]
MODES: tuple[str, ...] = ("forward", "backward", "both")
"""What a verification checks: the forward (outputs), the backward (outputs of a forward run with
autograd, then every gradient of a fresh random ``grad_output``), or both in turn."""


@dataclass(frozen=True)
class Tolerance:
    """Numerical acceptance bound for one dtype.

    An output passes when every element satisfies ``|cand - ref| <= atol + rtol * |ref|`` *and*
    the whole tensor satisfies ``||cand - ref||_2 <= max_rel_l2 * ||ref||_2``. The element bound
    catches local errors; the norm bound catches small systematic errors the element bound admits.
    """

    atol: float
    rtol: float
    max_rel_l2: float

    def to_dict(self) -> dict[str, float]:
        return {"atol": self.atol, "rtol": self.rtol, "max_rel_l2": self.max_rel_l2}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _SourceFile:
    """What a reference and a candidate share: a Python source, read from a file, known by its hash."""

    source: str

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Self:
        p = Path(path)
        return cls(source=p.read_text(encoding="utf-8"), name=kwargs.pop("name", p.stem), **kwargs)  # type: ignore[call-arg]

    @property
    def sha256(self) -> str:
        return sha256_text(self.source)


@dataclass(frozen=True)
class Reference(_SourceFile):
    """A reference op in KernelBench format (``Model``, ``get_inputs``, ``get_init_inputs``).

    ``shapes`` names shape configurations as overrides of the module's top-level constants
    (e.g. ``{"small": {"batch_size": 2, "channels": 8}}``); the worker assigns them on the loaded
    module before calling ``get_init_inputs``/``get_inputs``. Empty means "as written".
    ``tolerances`` overrides the default bound per dtype name (``"float32"``, ``"bfloat16"``...).
    ``allowed_ops`` extends the fallback allowlist with aten op packets (``"aten.arange"``).
    ``grad_inputs`` names the positions in ``get_inputs()`` whose gradients backward mode checks;
    None: every floating-point tensor input (parameters that require grad are always checked).
    """

    source: str
    name: str = "reference"
    shapes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    allowed_ops: frozenset[str] = frozenset()
    grad_inputs: tuple[int, ...] | None = None


CUDA_BUILDERS = frozenset({"load_inline", "load"})
"""``torch.utils.cpp_extension`` functions that build a CUDA extension (a call of one, or an import of
that module, makes a candidate a CUDA candidate)."""


def _builds_cuda_extension(source: str) -> bool:
    """Whether the file's code (not its comments or strings) imports ``torch.utils.cpp_extension`` or
    calls ``load_inline``: the CUDA path is for candidates that build native code, nothing else."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("cpp_extension"):
            return True
        if isinstance(node, ast.Import) and any(a.name.endswith("cpp_extension") for a in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "cpp_extension":
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "load_inline":
                return True
    return False


@dataclass(frozen=True)
class Candidate(_SourceFile):
    """A candidate kernel: Python source defining ``ModelNew`` (Triton or CUDA via load_inline)."""

    source: str
    name: str = "candidate"
    language: Language = "auto"

    @property
    def resolved_language(self) -> Literal["triton", "cuda"]:
        if self.language != "auto":
            return self.language
        return "cuda" if _builds_cuda_extension(self.source) else "triton"


DEFAULT_TRIALS_GPU = 3
DEFAULT_TRIALS_CPU = 1
CALLS_PER_TRIAL_RANGE = (8, 10)
"""The policy's secret number of calls per instance on a CPU (inclusive bounds). Each call runs in
Triton's interpreter (the bundled example: ~1.7 s of CPU a call), so the range is kept narrow: it
only has to make the last call unknowable."""
CALLS_PER_TRIAL_RANGE_GPU = (2, 4)
"""On a GPU: fewer correctness calls (realistic shapes hold GiBs per call, and every call's inputs and
outputs are kept); the timed phase then calls the first instance 100+ times, checking randomly
chosen calls (the last always), which is where "right for the first calls only" is caught there."""


@dataclass(frozen=True)
class VerifyOptions:
    """How hard to check. Defaults are the product's policy; tests shrink timeouts, not checks."""

    device: DeviceChoice = "auto"
    trials: int | None = None
    """Correctness trials (ModelNew instances), each with fresh parameters; at least one per shape.
    None: the policy, 3 on a GPU and 1 on a CPU (where every call runs in Triton's interpreter)."""
    calls_per_trial: int | None = None
    """Forward calls per instance, each on fresh inputs. None: the policy, a secret random number
    per instance, 8 to 10 on a CPU and 2 to 4 on a GPU (where the timed calls are checked too), so
    a candidate cannot know which call is its last; outputs of a random subset that always includes
    the last call are checked (every call when outputs are small). An explicit number is used as given."""
    seed: int | None = None
    """Base seed for reproducing a run; None draws fresh random seeds (recorded in the report)."""
    timeout_s: float = 180.0
    """Wall-clock limit for each sandbox process (reference and candidate separately)."""
    memory_limit_mb: int = 8192
    sandbox: SandboxChoice = "auto"
    sandbox_image: str | None = None
    """Worker image of the docker sandbox; None: ``KILN_SANDBOX_IMAGE``, else kernelkiln/worker:cpu
    (kernelkiln/worker:gpu on a GPU). ``auto`` uses docker only when an image is named here or there."""
    static_screen: bool = True
    """Reject sources that use introspection/patching/escape constructs before running them."""
    measure: bool = True
    """Time accepted candidates (GPU only; CPU interpreter runs are never timed)."""
    warmup_runs: int = 10
    timing_runs: int = 100
    compare_compile: bool = True
    """Also time torch.compile of the reference (GPU only)."""
    memory_budget_mb: int | None = 16384
    """What the parent may keep of a prepared reference's calls (inputs, outputs, timing sets): the
    reference worker stops computing calls once the next would go over it (the first is always kept;
    ``verifier/worker/call_budget.py``), and the report's environment says so. None: no bound."""
    allow_degenerate_reference: bool = False
    """Verify even when the reference output is constant or ~zero (a constant kernel could pass)."""
    trusted_code: bool = False
    """Needed for ``sandbox="none"``: the caller vouches for the code (no OS isolation at all)."""
    nvcc: str | None = None
    """nvcc used for compile-checking CUDA candidates when no GPU is present; None = find on PATH."""
    gpu_arch: int | None = None
    """The GPU target every Triton kernel is compiled for before anything runs (``90`` = sm_90, the
    H100/H200 of the hardware profiles); None: the GPU's own on a GPU, sm_90 elsewhere."""
    compile_only: bool = False
    """Triton candidates only: plan, check and build every launched kernel for ``gpu_arch``, then stop
    (verdict ``not_run``; the report's ``static_profile`` has the builds, no traffic). What the template
    compiler uses to drop tuning variants that would spill before verifying them."""
    mode: Mode = "forward"
    """``forward``: outputs of inference calls. ``backward``: every call runs the forward with autograd
    and then the backward on a fresh random ``grad_output``; outputs and the gradients of every input
    that requires grad and every parameter are compared with autograd on the reference (timing, on a
    GPU, covers forward plus backward). ``both``: the two in turn, accepted only if both are."""

    def trials_on(self, device: str) -> int:
        """Instances to build on ``device`` (the policy when ``trials`` is None)."""
        if self.trials is not None:
            return self.trials
        return DEFAULT_TRIALS_GPU if device == "cuda" else DEFAULT_TRIALS_CPU

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials < 1:
            raise ValueError("trials must be >= 1")
        if self.calls_per_trial is not None and self.calls_per_trial < 1:
            raise ValueError("calls_per_trial must be >= 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self.memory_limit_mb < 256:
            raise ValueError("memory_limit_mb must be >= 256")
        if self.gpu_arch is not None and not 50 <= self.gpu_arch <= 130:
            raise ValueError(f"gpu_arch must be an sm number such as 90, not {self.gpu_arch!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be forward, backward or both, not {self.mode!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.sandbox not in ("auto", "docker", "bwrap", "unshare", "none"):
            raise ValueError(f"sandbox must be auto, docker, bwrap, unshare or none, not {self.sandbox!r}")
