"""Compile-checking CUDA (``load_inline``) candidates on a host without a GPU.

Before the candidate is imported, ``torch.utils.cpp_extension.load_inline`` is replaced by a
recorder that builds the same translation unit load_inline would (the CUDA sources, the C++
sources and the pybind11 bindings for ``functions``) and compiles it with the local ``nvcc``, with
the flags load_inline would pass (``nvcc_flags``): torch's ``COMMON_NVCC_FLAGS`` (which turn off
the implicit half/bfloat16 conversions), the candidate's own ``-arch``/``-gencode`` flags when it
gives any (torch's rule: any flag naming an ``arch``), else sm_90, the Hopper GPUs (H100/H200) this
service measures on. The module it returns refuses to run: without a GPU the candidate is reported
"not run".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.native_libraries import library_uses

ARCH_FLAGS = ["-gencode", "arch=compute_90,code=sm_90"]
"""Default target when the candidate names none: Hopper (H100/H200), the GPUs this service measures on."""

FALLBACK_NVCC_FLAGS = [
    "-D__CUDA_NO_HALF_OPERATORS__",
    "-D__CUDA_NO_HALF_CONVERSIONS__",
    "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-D__CUDA_NO_HALF2_OPERATORS__",
    "--expt-relaxed-constexpr",
]
"""torch's ``COMMON_NVCC_FLAGS`` as of torch 2.11-2.13, used only if torch stops exporting them."""

VALUE_FLAGS = frozenset(
    {
        "-gencode",
        "--generate-code",
        "-arch",
        "--gpu-architecture",
        "-code",
        "--gpu-code",
        "-Xptxas",
        "--ptxas-options",
        "-maxrregcount",
        "--maxrregcount",
        "-D",
        "--define-macro",
        "-U",
        "--undefine-macro",
    }
)
"""Options of the candidate's ``extra_cuda_cflags`` that take their value as the next argument."""

PASSED_PREFIXES = (
    *sorted(VALUE_FLAGS),
    "-O",
    "-std=",
    "--std=",
    "--use_fast_math",
    "-use_fast_math",
    "--expt-relaxed-constexpr",
    "--expt-extended-lambda",
    "--extended-lambda",
    "-lineinfo",
    "--generate-line-info",
    "-ftz",
    "--ftz",
    "-prec-div",
    "--prec-div",
    "-prec-sqrt",
    "--prec-sqrt",
    "-fmad",
    "--fmad",
    "--restrict",
    "-res-usage",
    "--resource-usage",
    "-w",
    "--disable-warnings",
    "-Wno-",
    "--diag-suppress",
    "-diag-suppress",
)
"""What the check passes on to nvcc: code generation and language options. Options that name files
or programs (``-o``, ``-ccbin``, ``-Xcompiler``, ``--keep-dir``, ``-include``...) are left out and
listed in the compile log."""


def _is_arch_flag(flag: str) -> bool:
    """torch's rule (``_get_cuda_arch_flags``): any flag mentioning ``arch`` replaces the default targets."""
    return "arch" in flag and "TORCH_EXTENSION_NAME" not in flag


def split_candidate_flags(extra_cuda_cflags: list[str]) -> tuple[list[str], list[str]]:
    """(flags passed to nvcc, flags left out) from a candidate's ``extra_cuda_cflags``.

    Two-argument options (``-gencode X``, ``-arch X``, ``-Xptxas X``...) keep their value; a flag is
    passed when it starts with one of ``PASSED_PREFIXES``."""
    kept: list[str] = []
    dropped: list[str] = []
    flags = [str(f).strip() for f in extra_cuda_cflags if str(f).strip()]
    i = 0
    while i < len(flags):
        flag = flags[i]
        takes_value = flag in VALUE_FLAGS and i + 1 < len(flags)
        group = flags[i : i + 2] if takes_value else [flag]
        i += len(group)
        (kept if flag.startswith(PASSED_PREFIXES) else dropped).extend(group)
    return kept, dropped


def targets(flags: list[str]) -> list[str]:
    """The GPU code targets (``sm_90a``, ``compute_90``...) a list of nvcc flags builds for."""
    found: list[str] = []
    joined = " ".join(flags)
    for m in re.finditer(r"(?:^|[\s,-])code=\[?([\w,]+)\]?", joined):
        found += m.group(1).split(",")
    for m in re.finditer(r"(?:-arch|--gpu-architecture)[= ]((?:sm|compute)_\w+)", joined):
        found.append(m.group(1))
    return list(dict.fromkeys(found))


def nvcc_flags(name: str, extra_cuda_cflags: list[str]) -> tuple[list[str], list[str]]:
    """(the flags load_inline would give nvcc for this extension, the candidate flags left out)."""
    import torch.utils.cpp_extension as ext

    kept, dropped = split_candidate_flags(extra_cuda_cflags)
    common = list(getattr(ext, "COMMON_NVCC_FLAGS", FALLBACK_NVCC_FLAGS))
    arch = [] if any(_is_arch_flag(f) for f in kept) else list(ARCH_FLAGS)
    flags = [
        f"-DTORCH_EXTENSION_NAME={name}",
        "-DTORCH_API_INCLUDE_EXTENSION_H",
        *common,
        *arch,
        "-Xcompiler",
        "-fPIC",
        *kept,
    ]
    if not any(f.startswith(("-std=", "--std=")) for f in flags):
        flags.append("-std=c++20")
    return flags, dropped


class NotRunOnThisHost(RuntimeError):
    """Raised when a compile-checked CUDA extension is called on a host without a GPU."""


@dataclass
class CompileResult:
    name: str
    ok: bool
    command: str
    log: str
    seconds: float
    arch: str = ""
    """The code targets compiled for, e.g. ``sm_90`` or ``sm_90a``."""
    libraries: str = ""
    """Vendor compute libraries the sources include or link (refused before compiling)."""


@dataclass
class CudaCompileCheck:
    scratch: Path
    nvcc: str | None
    timeout_s: float
    results: list[CompileResult] = field(default_factory=list)

    def install(self) -> None:
        import torch.utils.cpp_extension as ext

        ext.load_inline = self.load_inline  # type: ignore[assignment]

    def load_inline(  # signature mirrors torch.utils.cpp_extension.load_inline
        self,
        name: str,
        cpp_sources: str | list[str],
        cuda_sources: str | list[str] | None = None,
        functions: str | list[str] | dict[str, str] | None = None,
        extra_cflags: list[str] | None = None,
        extra_cuda_cflags: list[str] | None = None,
        extra_ldflags: list[str] | None = None,
        extra_include_paths: list[str] | None = None,
        **_: Any,
    ) -> _NotRunModule:
        unit = translation_unit(name, cpp_sources, cuda_sources, functions)
        uses = library_uses([unit], [*(extra_ldflags or []), *(extra_cflags or []), *(extra_cuda_cflags or [])])
        if uses:
            self.results.append(
                CompileResult(
                    name,
                    False,
                    "",
                    f"uses vendor compute libraries ({', '.join(uses)}): calling cuBLAS, cuDNN, cuSPARSE, cuFFT or "
                    "CUTLASS is framework compute, not the candidate's kernel",
                    0.0,
                    libraries=", ".join(uses),
                )
            )
            return _NotRunModule(name)
        self.results.append(self._compile(name, unit, extra_cuda_cflags or [], extra_include_paths or []))
        return _NotRunModule(name)

    def _compile(self, name: str, unit: str, extra_flags: list[str], extra_includes: list[str]) -> CompileResult:
        import time

        import torch.utils.cpp_extension as ext

        nvcc = self.nvcc or shutil.which("nvcc")
        if nvcc is None:
            return CompileResult(name, False, "", "nvcc not found on PATH: cannot compile-check CUDA", 0.0)
        src = self.scratch / f"{name}_kiln_check.cu"
        src.write_text(unit, encoding="utf-8")
        includes = [*extra_includes, *ext.include_paths("cpu"), *_cuda_includes(nvcc), sysconfig.get_paths()["include"]]
        flags, dropped = nvcc_flags(name, extra_flags)
        argv = [
            nvcc,
            "-c",
            str(src),
            "-o",
            str(src.with_suffix(".o")),
            *flags,
            *[f"-I{p}" for p in includes],
        ]
        arch = ",".join(t for t in targets(flags) if t.startswith("sm_")) or ",".join(targets(flags))
        note = f"extra_cuda_cflags left out of the check: {' '.join(dropped)}\n" if dropped else ""
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, cwd=self.scratch)
            ok, log = proc.returncode == 0, (proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            ok, log = False, f"nvcc did not finish within {self.timeout_s:.0f} s"
        errors = [line for line in log.splitlines() if "error" in line.lower()]
        summary = "\n".join(errors[:20]) if not ok and errors else log[-3000:]
        command = " ".join([Path(nvcc).name, *flags])
        return CompileResult(name, ok, command, note + summary, time.monotonic() - start, arch)


def _cuda_includes(nvcc: str) -> list[str]:
    """CUDA's include directory: $CUDA_HOME, /usr/local/cuda, or next to the nvcc binary."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    candidates.append(str(Path(nvcc).resolve().parent.parent))
    for home in candidates:
        if home and (Path(home) / "include" / "cuda_runtime.h").is_file():
            return [str(Path(home) / "include")]
    return []


def translation_unit(
    name: str,
    cpp_sources: str | list[str],
    cuda_sources: str | list[str] | None,
    functions: str | list[str] | dict[str, str] | None,
) -> str:
    """The single .cu file that compiles what load_inline would: sources plus pybind11 bindings."""
    cpp = [cpp_sources] if isinstance(cpp_sources, str) else list(cpp_sources)
    cuda = [cuda_sources] if isinstance(cuda_sources, str) else list(cuda_sources or [])
    if isinstance(functions, str):
        functions = [functions]
    if isinstance(functions, list):
        functions = {f: f for f in functions}
    bindings = ""
    if functions:
        defs = "\n".join(
            f'  m.def("{fn}", torch::wrap_pybind_function({fn}), "{doc}");' for fn, doc in functions.items()
        )
        bindings = f"PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {{\n{defs}\n}}\n"
    prelude = "#include <torch/extension.h>\n#include <torch/types.h>\n#include <cuda.h>\n#include <cuda_runtime.h>\n"
    return prelude + "\n".join(cuda) + "\n" + "\n".join(cpp) + "\n" + bindings


class _NotRunModule:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)

        def refuse(*_: Any, **__: Any) -> Any:
            raise NotRunOnThisHost(f"{self._name}.{attr}: CUDA extension compiled but not run (no GPU)")

        return refuse
