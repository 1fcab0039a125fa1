"""Compile-checking CUDA (``load_inline``) candidates on a host without a GPU.

Before the candidate is imported, ``torch.utils.cpp_extension.load_inline`` is replaced by a
recorder that builds the same translation unit load_inline would (the CUDA sources, the C++
sources and the pybind11 bindings for ``functions``) and compiles it with the local ``nvcc``.
The module it returns refuses to run: without a GPU the candidate is reported "not run".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARCH_FLAGS = ["-gencode", "arch=compute_90,code=sm_90"]
"""Hopper (H100/H200), the GPUs this service measures on."""


class NotRunOnThisHost(RuntimeError):
    """Raised when a compile-checked CUDA extension is called on a host without a GPU."""


@dataclass
class CompileResult:
    name: str
    ok: bool
    command: str
    log: str
    seconds: float


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
        includes = [*ext.include_paths("cpu"), *_cuda_includes(nvcc), sysconfig.get_paths()["include"], *extra_includes]
        argv = [
            nvcc,
            "-std=c++20",
            "-c",
            str(src),
            "-o",
            str(src.with_suffix(".o")),
            "--expt-relaxed-constexpr",
            "-Xcompiler",
            "-fPIC",
            f"-DTORCH_EXTENSION_NAME={name}",
            *ARCH_FLAGS,
            *[f"-I{p}" for p in includes],
            *[f for f in extra_flags if f.startswith(("-D", "-O", "--use_fast_math"))],
        ]
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, cwd=self.scratch)
            ok, log = proc.returncode == 0, (proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            ok, log = False, f"nvcc did not finish within {self.timeout_s:.0f} s"
        errors = [line for line in log.splitlines() if "error" in line.lower()]
        summary = "\n".join(errors[:20]) if not ok and errors else log[-3000:]
        return CompileResult(name, ok, " ".join(argv[:4]) + " ...", summary, time.monotonic() - start)


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
