"""What a CUDA (load_inline) candidate needs to build: ninja on the worker's PATH, and the nvcc flags
load_inline would use (torch's COMMON_NVCC_FLAGS, the candidate's -arch/-gencode) in the CPU check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch.utils.cpp_extension as ext

from verifier.sandbox.environment import ninja_dir, worker_environment
from verifier.worker.cuda_compile import ARCH_FLAGS, CudaCompileCheck, nvcc_flags, split_candidate_flags, targets

HALF_DEFINES = ["-D__CUDA_NO_HALF_CONVERSIONS__", "-D__CUDA_NO_BFLOAT16_CONVERSIONS__", "-D__CUDA_NO_HALF_OPERATORS__"]


def test_worker_path_has_the_interpreters_ninja(tmp_path: Path) -> None:
    found = ninja_dir()
    assert found is not None, "the ninja dependency is not installed next to this interpreter"
    env = worker_environment(tmp_path, "/pkg", interpret_triton=False, caller_env={"PATH": "/evil/bin"})
    assert found in env["PATH"].split(":") and "/evil" not in env["PATH"]
    # What torch.utils.cpp_extension.is_ninja_available() runs, in the worker's environment.
    out = subprocess.run(["ninja", "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip()


def test_flags_keep_torchs_defines_and_default_to_sm90() -> None:
    flags, dropped = nvcc_flags("ext", ["-O3", "--use_fast_math"])
    assert dropped == []
    for flag in [*ext.COMMON_NVCC_FLAGS, *HALF_DEFINES, "-DTORCH_EXTENSION_NAME=ext", "-O3", "--use_fast_math"]:
        assert flag in flags
    assert flags[flags.index("-gencode") + 1] == ARCH_FLAGS[1]
    assert targets(flags) == ["sm_90"] and "-std=c++20" in flags


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["-gencode", "arch=compute_90a,code=sm_90a"], ["sm_90a"]),
        (["-gencode=arch=compute_90a,code=[sm_90a,compute_90a]"], ["sm_90a", "compute_90a"]),
        (["-arch=sm_90a"], ["sm_90a"]),
        (["--gpu-architecture", "sm_100a"], ["sm_100a"]),
    ],
)
def test_candidate_arch_flags_replace_the_default(given: list[str], expected: list[str]) -> None:
    flags, _ = nvcc_flags("ext", given)
    assert ARCH_FLAGS[1] not in flags  # torch's rule: a flag naming an arch replaces the default targets
    assert targets(flags) == expected
    assert all(f in flags for f in given)


def test_flags_naming_files_or_programs_are_left_out() -> None:
    kept, dropped = split_candidate_flags(
        ["-O2", "-ccbin", "/tmp/cc", "-o", "/tmp/x.o", "-Xptxas", "-v", "-std=c++17", "-Xcompiler", "-fplugin=x.so"]
    )
    assert kept == ["-O2", "-Xptxas", "-v", "-std=c++17"]
    assert dropped == ["-ccbin", "/tmp/cc", "-o", "/tmp/x.o", "-Xcompiler", "-fplugin=x.so"]
    flags, _ = nvcc_flags("ext", kept)
    assert "-std=c++17" in flags and "-std=c++20" not in flags


def test_the_check_runs_nvcc_with_those_flags(tmp_path: Path) -> None:
    """A stand-in nvcc records its command line: what the check really passes, end to end."""
    record = tmp_path / "argv.txt"
    fake = tmp_path / "nvcc"
    fake.write_text(f"#!{sys.executable}\nimport sys\nopen({str(record)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n")
    fake.chmod(0o755)
    check = CudaCompileCheck(tmp_path, str(fake), timeout_s=60)
    check.load_inline(
        "kiln_ext",
        cpp_sources="void f();",
        cuda_sources="void f() {}",
        functions=["f"],
        extra_cuda_cflags=["-gencode", "arch=compute_90a,code=sm_90a", "-ccbin", "/tmp/cc"],
        extra_include_paths=[str(tmp_path / "inc")],
    )
    argv = record.read_text().splitlines()
    (result,) = check.results
    assert result.ok and result.arch == "sm_90a"
    assert all(f in argv for f in [*ext.COMMON_NVCC_FLAGS, "-DTORCH_EXTENSION_NAME=kiln_ext"])
    assert argv[argv.index("-gencode") + 1] == "arch=compute_90a,code=sm_90a" and argv.count("-gencode") == 1
    assert "-ccbin" not in argv and "left out of the check: -ccbin /tmp/cc" in result.log
    assert f"-I{tmp_path / 'inc'}" in argv


SM90A_ONLY = r"""
__global__ void grow_registers(float* y) {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    y[threadIdx.x] = __half2float(__float2half(1.0f));
}
void launch(torch::Tensor y) { grow_registers<<<1, 128>>>(y.data_ptr<float>()); }
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed on this host")
def test_sm90a_code_compiles_when_the_candidate_asks_for_sm90a(tmp_path: Path) -> None:
    """setmaxnreg exists only on sm_90a: the check used to force sm_90 and reject it."""
    check = CudaCompileCheck(tmp_path, None, timeout_s=400)
    check.load_inline(
        "kiln_sm90a",
        cpp_sources="void launch(torch::Tensor y);",
        cuda_sources=SM90A_ONLY,
        functions=["launch"],
        extra_cuda_cflags=["-gencode=arch=compute_90a,code=sm_90a", "-O3"],
    )
    (result,) = check.results
    assert result.ok, result.log
    assert result.arch == "sm_90a"
    assert os.path.getsize(tmp_path / "kiln_sm90a_kiln_check.o") > 0
