"""verifier.plan.gpu_build: Triton builds for sm_90 on a host without a GPU, and the cubin's figures.

Each kernel is compiled once per module (Triton's on-disk cache points at a fresh directory, so the
times are real compiles); the TRITON_INTERPRET=1 case runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

triton = pytest.importorskip("triton")
tl = pytest.importorskip("triton.language")

from verifier.plan.gpu_build import (  # noqa: E402
    KernelBuild,
    build_key,
    compile_for_gpu,
    jit_helpers,
    triton_signature,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = {"num_warps": 4, "num_stages": 3, "enable_fp_fusion": True}


# --- kernels (plain functions: compile_for_gpu builds the JITFunction) -----------------------------------


def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + y, mask=mask)


def matmul_kernel(
    a_ptr,
    b_ptr,
    c_ptr,
    M,
    N,
    K,
    stride_am,
    stride_ak,
    stride_bk,
    stride_bn,
    stride_cm,
    stride_cn,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K, BK):
        a_mask = (rm[:, None] < M) & ((k + rk)[None, :] < K)
        b_mask = ((k + rk)[:, None] < K) & (rn[None, :] < N)
        a = tl.load(a_ptr + rm[:, None] * stride_am + (k + rk)[None, :] * stride_ak, mask=a_mask, other=0.0)
        b = tl.load(b_ptr + (k + rk)[:, None] * stride_bk + rn[None, :] * stride_bn, mask=b_mask, other=0.0)
        acc += tl.dot(a, b)
    c_mask = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(c_ptr + rm[:, None] * stride_cm + rn[None, :] * stride_cn, acc.to(tl.float16), mask=c_mask)


def scale_helper(x, factor):
    return x * factor


def scaled_copy(x_ptr, out_ptr, n, FACTOR: tl.constexpr = 3.0, BLOCK: tl.constexpr = 256):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, scale_helper(tl.load(x_ptr + offs, mask=mask), FACTOR), mask=mask)


def python_helper(x):
    return x + 1


def uses_str(x_ptr, BLOCK: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, BLOCK))
    tl.store(x_ptr + tl.arange(0, BLOCK), x + len(str(x)))


def uses_int(x_ptr, BLOCK: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, BLOCK))
    total = int(tl.sum(x, axis=0))
    tl.store(x_ptr + tl.arange(0, BLOCK), x + total)


def calls_python(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, python_helper(tl.load(x_ptr + offs)))


ADD_SIG = {"x_ptr": "*fp32", "y_ptr": "*fp32", "out_ptr": "*fp32", "n": "i32", "BLOCK": "constexpr"}
MM_SIG = {
    **{p: "*fp16" for p in ("a_ptr", "b_ptr", "c_ptr")},
    **{p: "i32" for p in ("M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn", "stride_cm", "stride_cn")},
    **{p: "constexpr" for p in ("BM", "BN", "BK")},
}
MM_CONST = {"BM": 128, "BN": 128, "BK": 64}
BAD_SIG = {"x_ptr": "*fp32", "BLOCK": "constexpr"}
SCALED_SIG = {"x_ptr": "*fp32", "out_ptr": "*fp32", "n": "i32", "FACTOR": "constexpr", "BLOCK": "constexpr"}


@pytest.fixture(scope="module", autouse=True)
def triton_cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRITON_CACHE_DIR", str(tmp_path_factory.mktemp("triton_cache")))
        yield


@pytest.fixture(scope="module")
def add_build() -> KernelBuild:
    return compile_for_gpu(add_kernel, "add_kernel", ADD_SIG, {"BLOCK": 1024}, FAST, read_sass=True)


@pytest.fixture(scope="module")
def matmul_build() -> KernelBuild:
    return compile_for_gpu(matmul_kernel, "matmul_kernel", MM_SIG, MM_CONST, {**FAST, "num_warps": 8})


@pytest.fixture(scope="module")
def failed_builds() -> dict[str, KernelBuild]:
    return {
        fn.__name__: compile_for_gpu(fn, fn.__name__, BAD_SIG, {"BLOCK": 128}, FAST)
        for fn in (uses_str, uses_int, calls_python)
    }


# --- honest kernels -------------------------------------------------------------------------------------


def test_vector_add_compiles_and_reports_the_cubin(add_build: KernelBuild) -> None:
    b = add_build
    assert b.ok, b.error
    assert b.error is None and b.target == "sm_90" and b.triton_version == triton.__version__
    assert 0 < b.seconds < 30 and b.inspect_seconds < 30
    assert b.registers is not None and 4 <= b.registers <= 64
    assert b.spill_store_bytes == 0 and b.spill_load_bytes == 0
    assert b.stack_bytes == 0 and b.local_bytes == 0
    assert b.shared_bytes == 0  # Triton's metadata: no dynamic shared memory for an elementwise kernel
    assert b.tensor_core_ops == {} and b.uses_tensor_cores is False
    assert b.sass_instructions and b.sass_instructions > 10
    assert b.notes == []
    assert b.summary() == f"add_kernel: {b.registers} regs, 0 spills, 0 B shared, no tensor cores"
    assert json.loads(json.dumps(b.to_dict()))["constexprs"] == {"BLOCK": 1024}


def test_tiled_fp16_dot_uses_hopper_tensor_cores(matmul_build: KernelBuild) -> None:
    b = matmul_build
    assert b.ok, b.error
    assert b.tensor_core_ops and b.tensor_core_ops.get("HGMMA", 0) >= 4, b.tensor_core_ops
    assert b.registers is not None and b.registers > 100
    assert b.shared_bytes is not None and b.shared_bytes >= (128 * 64 + 64 * 128) * 2  # a tile of A and B
    assert b.options["num_warps"] == 8
    assert b.summary().endswith("HGMMA") and "matmul_kernel: " in b.summary()


def test_maxnreg_caps_registers_and_spills_show(matmul_build: KernelBuild, capsys: pytest.CaptureFixture) -> None:
    """maxnreg reaches ptxas: at 128 the accumulator spills (the STL/LDL bytes, which equal ptxas -v's
    spill figures, and the stack show it); at 64 ptxas gives up, and Triton's PTX dump stays off stdout."""
    capped = compile_for_gpu(matmul_kernel, "capped", MM_SIG, MM_CONST, {**FAST, "num_warps": 8, "maxnreg": 128})
    assert capped.ok, capped.error
    assert capped.options["maxnreg"] == 128
    assert capped.registers is not None and capped.registers <= 128 < (matmul_build.registers or 0)
    assert capped.spill_store_bytes and capped.spill_load_bytes and capped.stack_bytes
    assert "spills" in capped.summary() and "B stored" in capped.summary()
    assert matmul_build.spill_store_bytes == 0 and matmul_build.stack_bytes == 0

    starved = compile_for_gpu(matmul_kernel, "starved", MM_SIG, MM_CONST, {**FAST, "num_warps": 8, "maxnreg": 64})
    assert not starved.ok
    assert "Insufficient registers" in (starved.error or "")
    assert "Insufficient registers" in starved.summary()
    assert "please share the reproducer" not in capsys.readouterr().out


def test_divisibility_hint_vectorises_loads(add_build: KernelBuild) -> None:
    aligned = compile_for_gpu(
        add_kernel,
        "add_kernel",
        ADD_SIG,
        {"BLOCK": 1024},
        FAST,
        divisible_by_16=["x_ptr", "y_ptr", "out_ptr", "n"],
        read_sass=True,
    )
    assert aligned.ok, aligned.error
    assert aligned.divisible_by_16 == ["x_ptr", "y_ptr", "out_ptr", "n"]
    assert aligned.sass_instructions and add_build.sass_instructions
    assert aligned.sass_instructions < add_build.sass_instructions  # 128-bit LDG/STG instead of scalar ones


def test_helper_through_jit_helpers_and_constexpr_defaults() -> None:
    build = compile_for_gpu(
        scaled_copy,
        "scaled_copy",
        SCALED_SIG,
        {"BLOCK": 512},
        FAST,
        globals_override=jit_helpers({"scale_helper": scale_helper}),
    )
    assert build.ok, build.error
    assert build.constexprs == {"FACTOR": 3.0, "BLOCK": 512}  # FACTOR from the parameter's default


def test_helper_left_as_a_python_function_is_the_kernels_error() -> None:
    build = compile_for_gpu(scaled_copy, "scaled_copy", SCALED_SIG, {}, FAST)
    assert not build.ok
    assert "scale_helper" in (build.error or "")


def test_jit_debug_becomes_the_debug_option(add_build: KernelBuild) -> None:
    build = compile_for_gpu(add_kernel, "add_kernel", ADD_SIG, {"BLOCK": 1024}, FAST, jit_kwargs={"debug": True})
    assert build.ok, build.error
    assert build.options["debug"] is True
    assert "debug" not in add_build.options


def test_constexpr_value_that_breaks_the_kernel_is_a_failed_build() -> None:
    build = compile_for_gpu(add_kernel, "add_kernel", ADD_SIG, {"BLOCK": 1000}, FAST)
    assert not build.ok
    assert "power of 2" in (build.error or "")
    assert "arange" in (build.error or "")


# --- kernels that do not compile ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "named", "reason"),
    [
        ("uses_str", ["x + len(str(x))", "str is not defined"], "NameError('str is not defined')"),
        ("uses_int", ["int(tl.sum(x, axis=0))", "int()"], 'TypeError("int() argument'),
        ("calls_python", ["python_helper(tl.load(x_ptr + offs))"], "Unsupported function referenced"),
    ],
)
def test_python_constructs_fail_with_the_construct_named(
    failed_builds: dict[str, KernelBuild], kernel: str, named: list[str], reason: str
) -> None:
    build = failed_builds[kernel]
    assert not build.ok and build.error
    for text in named:
        assert text in build.error, build.error
    assert " at 0x" not in build.error  # object addresses are removed: the message is reproducible
    assert len(build.error) <= 4000
    assert build.registers is None and build.tensor_core_ops is None
    assert build.summary().startswith(f"{kernel}: failed to compile for sm_90: ")
    assert reason in build.summary()


def test_error_of_a_helper_is_reported_through_its_caller() -> None:
    source = textwrap.dedent(
        """
        import triton.language as tl

        def inner(x):
            return str(x)

        def outer(x_ptr, BLOCK: tl.constexpr):
            offs = tl.arange(0, BLOCK)
            tl.store(x_ptr + offs, inner(tl.load(x_ptr + offs)))
        """
    )
    namespace = _module_from_source("gpu_build_nested_case", source)
    build = compile_for_gpu(
        namespace["outer"],
        "outer",
        BAD_SIG,
        {"BLOCK": 64},
        FAST,
        globals_override=jit_helpers({"inner": namespace["inner"]}),
    )
    assert not build.ok
    assert "inner(tl.load" in (build.error or "") and "str is not defined" in (build.error or "")


# --- misuse raises ------------------------------------------------------------------------------------------


def test_misuse_raises() -> None:
    with pytest.raises(ValueError, match="exactly the parameters"):
        compile_for_gpu(add_kernel, "k", {"x_ptr": "*fp32"}, {"BLOCK": 64}, FAST)
    with pytest.raises(ValueError, match="not 'constexpr'"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {"BLOCK": 64, "n": 3}, FAST)
    with pytest.raises(ValueError, match="no value and no default"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {}, FAST)
    with pytest.raises(ValueError, match="unknown Triton options"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {"BLOCK": 64}, {"num_wraps": 4})
    with pytest.raises(TypeError, match=r"@triton\.jit keywords"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {"BLOCK": 64}, FAST, jit_kwargs={"inline": True})
    with pytest.raises(ValueError, match="not an NVIDIA architecture"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {"BLOCK": 64}, FAST, arch="gfx942")
    with pytest.raises(ValueError, match="divisible_by_16"):
        compile_for_gpu(add_kernel, "k", ADD_SIG, {"BLOCK": 64}, FAST, divisible_by_16=["BLOCK"])
    with pytest.raises(TypeError, match="plain Python function"):
        compile_for_gpu(len, "k", ADD_SIG, {"BLOCK": 64}, FAST)
    namespace: dict = {"tl": tl}
    exec("def nowhere(x_ptr):\n    pass\n", namespace)  # no file, no linecache entry
    with pytest.raises(ValueError, match="cannot be read"):
        compile_for_gpu(namespace["nowhere"], "nowhere", {"x_ptr": "*fp32"}, {}, FAST)


def test_missing_tools_leave_the_figures_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from verifier.plan import gpu_build

    monkeypatch.setattr(gpu_build, "_tool", lambda name: None)
    build = compile_for_gpu(add_kernel, "add_kernel", ADD_SIG, {"BLOCK": 1024}, FAST)
    assert build.ok and build.registers is None and build.tensor_core_ops is None
    assert build.shared_bytes == 0  # Triton's metadata needs no tool
    assert any("cuobjdump not found" in note for note in build.notes)
    assert build.summary() == "add_kernel: ? regs, ? spills, 0 B shared, tensor cores ?"


# --- TRITON_INTERPRET=1 ---------------------------------------------------------------------------------------

INTERPRETED = """
import json, torch, triton
from triton.runtime.interpreter import InterpretedFunction
from tests.verifier import test_gpu_build as t
from verifier.plan.gpu_build import compile_for_gpu, jit_helpers

# the module's helper as the candidate's process has it: @triton.jit under the interpreter
helper = triton.jit(t.scale_helper)
kernel = triton.jit(t.scaled_copy)
assert isinstance(helper, InterpretedFunction) and isinstance(kernel, InterpretedFunction)
t.scale_helper = helper  # the kernel's globals now name an InterpretedFunction

x = torch.arange(8, dtype=torch.float32)
out = torch.empty_like(x)
kernel[(1,)](x, out, 8, BLOCK=8)  # the interpreter runs (and patches triton.language meanwhile)
assert out.tolist() == [3.0 * v for v in range(8)], out

try:
    compile_for_gpu(kernel, "scaled_copy", t.SCALED_SIG, {"BLOCK": 256}, t.FAST)
    refused = ""
except TypeError as exc:
    refused = str(exc)
build = compile_for_gpu(
    kernel, "scaled_copy", t.SCALED_SIG, {"BLOCK": 256}, t.FAST, globals_override=jit_helpers({"scale_helper": helper})
)
print(json.dumps({"refused": refused, "build": build.to_dict()}))
"""


def test_compiles_with_triton_interpret_set(tmp_path: Path) -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1", "TRITON_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", INTERPRETED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "InterpretedFunction" in result["refused"] and "scale_helper" in result["refused"]
    build = result["build"]
    assert build["ok"], build["error"]
    assert build["registers"] and build["tensor_core_ops"] == {}


# --- triton_signature ------------------------------------------------------------------------------------------

SIGNATURE_CASES = [
    (torch.float32, "*fp32"),
    (torch.float16, "*fp16"),
    (torch.bfloat16, "*bf16"),
    (torch.float64, "*fp64"),
    (torch.int8, "*i8"),
    (torch.int16, "*i16"),
    (torch.int32, "*i32"),
    (torch.int64, "*i64"),
    (torch.uint8, "*u8"),
    (torch.bool, "*u1"),
    (torch.float8_e4m3fn, "*fp8e4nv"),
    (torch.float8_e5m2, "*fp8e5"),
    (0, "i32"),
    (-(2**31), "i32"),
    (2**31 - 1, "i32"),
    (2**31, "i64"),
    (-(2**31) - 1, "i64"),
    (2**63 - 1, "i64"),
    (2**63, "u64"),
    (2**64 - 1, "u64"),
    (True, "u1"),
    (False, "u1"),
    (1.5, "fp32"),
    (None, "constexpr"),
]


@pytest.mark.parametrize(("value", "expected"), SIGNATURE_CASES)
def test_triton_signature(value: object, expected: str) -> None:
    assert triton_signature(value) == expected


def test_triton_signature_matches_tritons_own_rule() -> None:
    jit = pytest.importorskip("triton.runtime.jit")
    if not hasattr(jit, "mangle_type"):
        pytest.skip("this Triton has no mangle_type")
    for value, expected in SIGNATURE_CASES:
        arg = jit.MockTensor(value) if isinstance(value, torch.dtype) else value
        assert jit.mangle_type(arg) == expected, value


def test_triton_signature_of_tensors_and_refusals() -> None:
    assert triton_signature(torch.empty(2, 3, dtype=torch.float16, device="meta")) == "*fp16"
    assert triton_signature(torch.zeros(1, dtype=torch.int64)) == "*i64"
    with pytest.raises(TypeError):
        triton_signature(torch.complex64)
    with pytest.raises(TypeError):
        triton_signature("fp32")
    with pytest.raises(ValueError):
        triton_signature(2**64)


# --- build_key --------------------------------------------------------------------------------------------------


def test_build_key_changes_with_every_input() -> None:
    base = dict(
        source_text="def k(x_ptr, BLOCK: tl.constexpr): ...",
        name="k",
        signature={"x_ptr": "*fp32", "BLOCK": "constexpr"},
        constexprs={"BLOCK": 128},
        options={"num_warps": 4, "num_stages": 3},
        arch=90,
    )
    key = build_key(**base)
    assert len(key) == 64 and key == build_key(**base)
    reordered = {
        **base,
        "options": {"num_stages": 3, "num_warps": 4},
        "signature": {"BLOCK": "constexpr", "x_ptr": "*fp32"},  # Triton places arguments by name
    }
    assert build_key(**reordered) == key
    assert build_key(**base, jit_kwargs={}) == key
    changes = [
        {"source_text": base["source_text"] + " "},
        {"name": "k2"},
        {"signature": {"x_ptr": "*fp16", "BLOCK": "constexpr"}},
        {"constexprs": {"BLOCK": 256}},
        {"constexprs": {"BLOCK": tl.float16}},
        {"options": {"num_warps": 8, "num_stages": 3}},
        {"options": {"num_warps": 4, "num_stages": 3, "maxnreg": 128}},
        {"arch": 100},
    ]
    keys = {build_key(**{**base, **change}) for change in changes}
    keys.add(build_key(**base, jit_kwargs={"debug": True}))
    keys.add(build_key(**base, divisible_by_16=["x_ptr"]))
    assert key not in keys and len(keys) == len(changes) + 2


def test_build_key_includes_the_triton_version(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("src", "k", {"x_ptr": "*fp32"}, {}, {}, 90)
    key = build_key(*args)
    monkeypatch.setattr(triton, "__version__", "0.0.0-other")
    assert build_key(*args) != key


def _module_from_source(name: str, source: str) -> dict:
    """Run ``source`` as module ``name`` with its text in linecache (as a candidate's loader does)."""
    import linecache

    filename = f"<{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": name}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_without_local_memory_the_sass_is_skipped_and_the_ptx_names_the_tensor_cores(
    matmul_build: KernelBuild,
) -> None:
    """The default path: no stack/local memory means no spills; the PTX's wgmma says HGMMA, as the SASS did."""
    quick = compile_for_gpu(add_kernel, "add_kernel", ADD_SIG, {"BLOCK": 1024}, FAST)
    assert quick.ok and quick.sass_instructions is None
    assert quick.spill_store_bytes == quick.spill_load_bytes == 0 and quick.tensor_core_ops == {}
    assert any("read from the PTX" in n for n in quick.notes)
    if matmul_build.stack_bytes == 0 and matmul_build.local_bytes == 0:
        assert matmul_build.sass_instructions is None
    assert "HGMMA" in (matmul_build.tensor_core_ops or {})
