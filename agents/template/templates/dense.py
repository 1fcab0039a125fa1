"""Dense anchors: 1x1 convolution (a channel-mixing GEMM per image) and matmul (mm / addmm), both tiled
with ``tl.dot``, float32 accumulation, strided operands (a transposed weight is read in place) and a
fused epilogue.

Dot precision, explicit in every emitted kernel (``DOT_PRECISION``, chosen by the launcher from the
operands' dtypes, ``dot_precision``): float16/bfloat16 operands are upcast to float32 and multiplied
with ``input_precision="tf32"``, which is exact for them (TF32 keeps 10 mantissa bits and float32's
exponent); float32 (or float64) operands get the eager baseline's precision for the op's kind
(``verifier.precision.fp32_dot_precision``): a matmul ``"tf32x3"`` (three TF32 products: about float32
accuracy, as cuBLAS's full float32), a convolution ``"tf32"`` (cuDNN's float32 convolutions run TF32
in the baseline, so three TF32 products would be three times its work at a higher precision). Plain
TF32 on a float32 matmul, Triton's default on a GPU, rounds float32 inputs to 10 mantissa bits: at
K=4096 about 1% of the elements miss the float32 element bound, and any kernel that passed would owe
part of its speedup over eager float32 matmul (full float32) to lost precision. The CPU interpreter
computes exact float32 whatever the precision: only a GPU run shows the difference.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps
from verifier.precision import OpKind, fp32_dot_precision

FP32_DOT_PRECISION = fp32_dot_precision("matmul")
"""``tl.dot`` input precision for float32 matmul operands: three TF32 products, about float32 accuracy."""
EXACT_DOT_PRECISION = "tf32"
"""For float16/bfloat16 operands upcast to float32: exact in TF32."""


def dot_precision(a: str, b: str, kind: OpKind = "matmul") -> str:
    """The launcher's expression choosing the dot precision from operand tensors ``a`` and ``b`` of an
    op of ``kind`` (float32 operands: the eager baseline's precision for that kind)."""
    sixteen = "(torch.float16, torch.bfloat16)"
    fp32 = fp32_dot_precision(kind)
    return f'"{EXACT_DOT_PRECISION}" if {a}.dtype in {sixteen} and {b}.dtype in {sixteen} else "{fp32}"'


def emit_pwconv(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    epi = Epilogue(node.epilogue, 4)
    x, w = ctx.var(node.operands["x"]), ctx.var(node.operands["weight"])  # type: ignore[arg-type]
    bias_leaf = node.operands.get("bias")
    bias = ctx.var(bias_leaf) if bias_leaf is not None else f"{p}w"
    bo, bp, bc = (int(ctx.params.get(k, d)) for k, d in (("block_o", 32), ("block_p", 64), ("block_c", 32)))
    lines = [
        f"{p}x, {p}w = {x}, {w}",
        f"{p}B, {p}CI, {p}H, {p}W = {p}x.shape",
        f"{p}CO = {p}w.shape[0]",
        f"{p}shape = ({p}B, {p}CO, {p}H, {p}W)",
        *epi.output(ctx, alloc, p),
        f"{p}bo, {p}bp, {p}bc = {block(f'{p}CO', bo, 16)}, {block(f'{p}H * {p}W', bp, 16)}, {block(f'{p}CI', bc, 16)}",
        f"{p}grid = ({p}B, triton.cdiv({p}CO, {p}bo), triton.cdiv({p}H * {p}W, {p}bp))",
        f"{p}dp = {dot_precision(f'{p}x', f'{p}w', 'conv')}",
        f"{ctx.name}[{p}grid]({p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}w, {p}w.stride(0), {p}w.stride(1), "
        f"{bias}, {p}CI, {p}CO, {p}H, {p}W, " + epi.call_args(p) + f"HAS_BIAS={bias_leaf is not None}, "
        f"BLOCK_O={p}bo, BLOCK_P={p}bp, BLOCK_C={p}bc, DOT_PRECISION={p}dp, {warps(ctx.params)})",
    ]
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                ["x_ptr, xs0, xs1, xs2, xs3, y_ptr, ys0, ys1, ys2, ys3, w_ptr, ws0, ws1, b_ptr, CI, CO, H, W,"],
                [
                    "HAS_BIAS: tl.constexpr, BLOCK_O: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,",
                    "DOT_PRECISION: tl.constexpr,",
                ],
            ),
            "    b = tl.program_id(0)",
            "    o = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)",
            "    p = tl.program_id(2) * BLOCK_P + tl.arange(0, BLOCK_P)",
            "    ph = p // W",
            "    pw = p % W",
            "    o_ok = o < CO",
            "    p_ok = p < H * W",
            "    acc = tl.zeros((BLOCK_O, BLOCK_P), dtype=tl.float32)",
            "    for c0 in range(0, CI, BLOCK_C):",
            "        cc = c0 + tl.arange(0, BLOCK_C)",
            "        c_ok = cc < CI",
            "        w_mask = o_ok[:, None] & c_ok[None, :]",
            "        wv = tl.load(w_ptr + o[:, None] * ws0 + cc[None, :] * ws1, mask=w_mask, other=0.0)",
            "        x_offs = b * xs0 + cc[:, None] * xs1 + ph[None, :] * xs2 + pw[None, :] * xs3",
            "        xv = tl.load(x_ptr + x_offs, mask=c_ok[:, None] & p_ok[None, :], other=0.0)",
            "        acc += tl.dot(wv.to(tl.float32), xv.to(tl.float32), input_precision=DOT_PRECISION)",
            "    if HAS_BIAS:",
            "        acc += tl.load(b_ptr + o, mask=o_ok, other=0.0).to(tl.float32)[:, None]",
            "    out_mask = o_ok[:, None] & p_ok[None, :]",
            *epi.body(["b", "o[:, None]", "ph[None, :]", "pw[None, :]"], "out_mask"),
            "    y_offs = b * ys0 + o[:, None] * ys1 + ph[None, :] * ys2 + pw[None, :] * ys3",
            "    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)",
        ]
    )
    return kernel, lines


@triton.jit
def matmul_tile(
    a_ptr, as0, as1, b_ptr, bs0, bs1, M, N, K, pid_m, pid_n,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DOT_PRECISION: tl.constexpr,
):  # fmt: skip
    """One [BLOCK_M, BLOCK_N] tile of A @ B in float32 (strided operands): (acc, rm, rn)."""
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)
    for k0 in range(0, K, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        av = tl.load(
            a_ptr + rm[:, None] * as0 + rk[None, :] * as1, mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0
        )
        bv = tl.load(
            b_ptr + rk[:, None] * bs0 + rn[None, :] * bs1, mask=(rk[:, None] < K) & (rn[None, :] < N), other=0.0
        )
        acc += tl.dot(av.to(tl.float32), bv.to(tl.float32), input_precision=DOT_PRECISION)
    return acc, rm, rn


MATMUL_SOURCE = inspect.getsource(matmul_tile.fn)
"""``matmul_tile`` as emitted into a candidate (once)."""

GROUP_M = 8
"""Row tiles a matmul walks together over the column tiles (grouped tile order), unless the profile says."""


GEMV_ROWS = 8
"""Rows a GEMV program reduces when the matrix is contiguous along K (a wide K slice a row: coalesced)."""
GEMV_ROWS_STRIDED = 128
"""Rows a GEMV program reduces when the matrix is contiguous along the rows (a wide row slice a K step)."""
SPLIT_PROGRAMS = 512
"""Split-K and GEMV launch about this many programs (an H100 has 132 SMs) when K allows."""
SPLIT_MIN_K = 512
"""The least K a split-K (tl.dot) program reduces; GEMV programs take at least ``8 x`` this."""
SPLIT_RATIO = 4
"""Split-K only when K is at least this many times the larger of M and N."""


def emit_matmul(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """mm (rank 2) or bmm (rank 3: a batch dim first, grid axis 2), with a fused epilogue and an optional
    triangle mask (``attrs["triangle"] = ("upper" | "lower", diagonal)``: torch.triu / tril of the product)."""
    p = f"n{node.id}_"
    batched = bool(node.attrs.get("batched"))
    rank = 3 if batched else 2
    epi = Epilogue(node.epilogue, rank)
    a, b = ctx.var(node.operands["a"]), ctx.var(node.operands["b"])  # type: ignore[arg-type]
    bm, bn, bk = (int(ctx.params.get(k, d)) for k, d in (("block_m", 64), ("block_n", 64), ("block_k", 32)))
    if batched:
        shapes = [f"{p}BT, {p}M, {p}K = {p}a.shape", f"{p}N = {p}b.shape[2]", f"{p}shape = ({p}BT, {p}M, {p}N)"]
        ab_strides = f"*{p}a.stride(), *{p}b.stride()"
        y_strides = f"*{out}.stride()"
        grid_batch = f"{p}BT"
    else:
        shapes = [f"{p}M, {p}K = {p}a.shape", f"{p}N = {p}b.shape[1]", f"{p}shape = ({p}M, {p}N)"]
        ab_strides = f"0, *{p}a.stride(), 0, *{p}b.stride()"
        y_strides = f"0, *{out}.stride()"
        grid_batch = "1"
    strides = f"{ab_strides}, {y_strides}"
    triangle = node.attrs.get("triangle")
    kn, bt_n = ctx.name, grid_batch
    direct = [
        f"{p}grid = (triton.cdiv({p}M, {p}bm) * triton.cdiv({p}N, {p}bn), 1, {grid_batch})",
        f"{kn}[{p}grid]({p}a, {p}b, {out}, {strides}, {p}M, {p}N, {p}K, "
        + epi.call_args(p)
        + f"BLOCK_M={p}bm, BLOCK_N={p}bn, BLOCK_K={p}bk, GROUP_M={int(ctx.params.get('group_m', GROUP_M))}, "
        + f"DOT_PRECISION={p}dp, {warps(ctx.params)})",
    ]
    reduce = [
        f"{kn}_reduce[(triton.cdiv({p}M, {p}rm) * triton.cdiv({p}N, {p}rn), 1, {bt_n})]({p}w, {out}, {y_strides}, "
        f"{p}M, {p}N, {p}S, " + epi.call_args(p) + f"BLOCK_M={p}rm, BLOCK_N={p}rn, num_warps=4)",
    ]
    ws = f"{p}w = torch.empty(({bt_n}, {p}S, {p}M, {p}N), device={p}a.device, dtype=torch.float32)"
    gemv = [
        f"{p}col = int({p}N == 1)  # y[:, 0] = A @ b[:, 0]; else y[0, :] = a[0, :] @ B",
        f"{p}R = {p}M if {p}col else {p}N",
        f"{p}kc1 = ({p}a.stride(-1) if {p}col else {p}b.stride(-2)) == 1  # the matrix is contiguous along K",
        f"{p}br = {block(f'{p}R', GEMV_ROWS, 1)} if {p}kc1 else {block(f'{p}R', GEMV_ROWS_STRIDED, 1)}",
        f"{p}bkv = {block(f'{p}K', 512, 16)} if {p}kc1 else {block(f'{p}K', 32, 16)}",
        f"{p}S = max(1, min(triton.cdiv({SPLIT_PROGRAMS}, triton.cdiv({p}R, {p}br) * {bt_n}), "
        f"{p}K // {8 * SPLIT_MIN_K}))",
        f"{p}kc = triton.cdiv(triton.cdiv({p}K, {p}S), {p}bkv) * {p}bkv",
        f"{p}S = triton.cdiv({p}K, {p}kc)",
        ws,
        f"{kn}_gemv[(triton.cdiv({p}R, {p}br), {p}S, {bt_n})]({p}a, {p}b, {p}w, {ab_strides}, {p}M, {p}N, "
        f"{p}K, {p}kc, COLUMN={p}col, BLOCK_R={p}br, BLOCK_K={p}bkv, num_warps=4)",
        f"{p}rm, {p}rn = {block(f'{p}M', 128, 1)}, {block(f'{p}N', 128, 1)}",
        *reduce,
    ]
    split = [
        ws,
        f"{kn}_split[(triton.cdiv({p}M, {p}bm) * triton.cdiv({p}N, {p}bn), {p}S, {bt_n})]({p}a, {p}b, {p}w, "
        f"{ab_strides}, {p}M, {p}N, {p}K, {p}kc, BLOCK_M={p}bm, BLOCK_N={p}bn, BLOCK_K={p}bk, "
        f"DOT_PRECISION={p}dp, {warps(ctx.params)})",
        f"{p}rm, {p}rn = {block(f'{p}M', 32, 1)}, {block(f'{p}N', 128, 1)}",
        *reduce,
    ]
    lines = [
        f"{p}a, {p}b = {a}, {b}",
        *shapes,
        *epi.output(ctx, alloc, p),
        f"{p}bm, {p}bn, {p}bk = {block(f'{p}M', bm, 16)}, {block(f'{p}N', bn, 16)}, {block(f'{p}K', bk, 16)}",
        f"{p}dp = {dot_precision(f'{p}a', f'{p}b')}",
        f"{p}S, {p}kc = 1, {p}K",
        f"if {p}K >= {SPLIT_RATIO} * max({p}M, {p}N) and {p}K >= {2 * SPLIT_MIN_K}:  # split K across programs",
        f"    {p}S = min(triton.cdiv({SPLIT_PROGRAMS}, triton.cdiv({p}M, {p}bm) * triton.cdiv({p}N, {p}bn) "
        f"* {bt_n}), {p}K // {SPLIT_MIN_K})",
        f"    {p}kc = triton.cdiv(triton.cdiv({p}K, {p}S), {p}bk) * {p}bk",
        f"    {p}S = triton.cdiv({p}K, {p}kc)",
        f"if {p}N == 1 or {p}M == 1:  # matrix x vector: rows reduced over K, no tl.dot",
        *("    " + line for line in gemv),
        f"elif {p}S > 1:  # K split across programs: float32 partial tiles, then a reduction",
        *("    " + line for line in split),
        "else:",
        *("    " + line for line in direct),
    ]
    index = (["bt"] if batched else []) + ["rm[:, None]", "rn[None, :]"]
    mask_lines = []
    if triangle is not None:
        kind, diagonal = triangle
        keep = (
            f"rn[None, :] - rm[:, None] >= {int(diagonal)}"
            if kind == "upper"
            else (f"rn[None, :] - rm[:, None] <= {int(diagonal)}")
        )
        mask_lines = [f"    acc = tl.where({keep}, acc, 0.0)"]
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                ["a_ptr, b_ptr, y_ptr, as_b, as0, as1, bs_b, bs0, bs1, ys_b, ys0, ys1, M, N, K,"],
                [
                    "BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,",
                    "DOT_PRECISION: tl.constexpr,",
                ],
            ),
            "    bt = tl.program_id(2).to(tl.int64)",
            "    # grouped tile order: GROUP_M row tiles run one after another over the same column tiles,",
            "    # so the B tiles they share are still in L2",
            "    pid = tl.program_id(0)",
            "    in_group = GROUP_M * tl.cdiv(N, BLOCK_N)",
            "    first_m = (pid // in_group) * GROUP_M",
            "    group_m = tl.minimum(tl.cdiv(M, BLOCK_M) - first_m, GROUP_M)",
            "    acc, rm, rn = matmul_tile(",
            "        a_ptr + bt * as_b, as0, as1, b_ptr + bt * bs_b, bs0, bs1, M, N, K,",
            "        first_m + (pid % in_group) % group_m, (pid % in_group) // group_m, BLOCK_M, BLOCK_N, BLOCK_K,",
            "        DOT_PRECISION,",
            "    )",
            "    out_mask = (rm[:, None] < M) & (rn[None, :] < N)",
            *mask_lines,
            *epi.body(index, "out_mask"),
            "    y_ptrs = y_ptr + bt * ys_b + rm[:, None] * ys0 + rn[None, :] * ys1",
            "    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)",
        ]
    )
    return "\n\n\n".join(
        [kernel, _gemv_kernel(kn), _split_kernel(kn), _reduce_kernel(kn, epi, index, mask_lines)]
    ), lines


def _gemv_kernel(kn: str) -> str:
    """Matrix x vector: a program reduces ``BLOCK_R`` rows over its ``K_CHUNK`` of K (grid axis 1) with
    elementwise products summed in float32 (no padded ``tl.dot``), into the float32 partials ``w``."""
    return f"""@triton.jit
def {kn}_gemv(
    a_ptr, b_ptr, w_ptr, as_b, as0, as1, bs_b, bs0, bs1, M, N, K, K_CHUNK,
    COLUMN: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr,
):
    bt = tl.program_id(2).to(tl.int64)
    s = tl.program_id(1)
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    if COLUMN:  # y[:, 0] = A @ b[:, 0]
        R = M
        m_ptr = a_ptr + bt * as_b + r.to(tl.int64)[:, None] * as0
        ms_k = as1
        v_ptr = b_ptr + bt * bs_b
        vs = bs0
    else:  # y[0, :] = a[0, :] @ B
        R = N
        m_ptr = b_ptr + bt * bs_b + r.to(tl.int64)[:, None] * bs1
        ms_k = bs0
        v_ptr = a_ptr + bt * as_b
        vs = as1
    r_ok = r < R
    k_lo = s * K_CHUNK
    k_hi = tl.minimum(k_lo + K_CHUNK, K)
    acc = tl.full((BLOCK_R, BLOCK_K), 0.0, tl.float32)
    for k0 in range(k_lo, k_hi, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        k_ok = rk < k_hi
        mv = tl.load(m_ptr + rk[None, :] * ms_k, mask=r_ok[:, None] & k_ok[None, :], other=0.0)
        vv = tl.load(v_ptr + rk * vs, mask=k_ok, other=0.0)
        acc += mv.to(tl.float32) * vv.to(tl.float32)[None, :]
    tl.store(w_ptr + (bt * tl.num_programs(1) + s) * R + r, tl.sum(acc, axis=1), mask=r_ok)"""


def _split_kernel(kn: str) -> str:
    """Split-K: a program multiplies one output tile over its ``K_CHUNK`` of K (grid axis 1) with
    ``tl.dot``, into the float32 partials ``w`` ([batch, split, M, N])."""
    return f"""@triton.jit
def {kn}_split(
    a_ptr, b_ptr, w_ptr, as_b, as0, as1, bs_b, bs0, bs1, M, N, K, K_CHUNK,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    bt = tl.program_id(2).to(tl.int64)
    s = tl.program_id(1)
    pid = tl.program_id(0)
    n_tiles = tl.cdiv(N, BLOCK_N)
    k_lo = s * K_CHUNK
    acc, rm, rn = matmul_tile(
        a_ptr + bt * as_b + k_lo * as1, as0, as1, b_ptr + bt * bs_b + k_lo * bs0, bs0, bs1, M, N,
        tl.minimum(K_CHUNK, K - k_lo), pid // n_tiles, pid % n_tiles, BLOCK_M, BLOCK_N, BLOCK_K, DOT_PRECISION,
    )
    w = w_ptr + (bt * tl.num_programs(1) + s) * M * N
    tl.store(w + rm[:, None] * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))"""


def _reduce_kernel(kn: str, epi: Epilogue, index: list[str], mask_lines: list[str]) -> str:
    """The partials ``w`` summed over the split in a fixed order (deterministic), then the triangle
    mask, the epilogue and the store, as the direct kernel's."""
    return "\n".join(
        [
            *epi.kernel_head(
                f"{kn}_reduce",
                ["w_ptr, y_ptr, ys_b, ys0, ys1, M, N, SPLIT,"],
                ["BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,"],
            ),
            "    bt = tl.program_id(2).to(tl.int64)",
            "    pid = tl.program_id(0)",
            "    n_tiles = tl.cdiv(N, BLOCK_N)",
            "    rm = (pid // n_tiles) * BLOCK_M + tl.arange(0, BLOCK_M)",
            "    rn = (pid % n_tiles) * BLOCK_N + tl.arange(0, BLOCK_N)",
            "    out_mask = (rm[:, None] < M) & (rn[None, :] < N)",
            "    w = w_ptr + bt * SPLIT * M * N + rm[:, None] * N + rn[None, :]",
            "    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)",
            "    for s in range(0, SPLIT):",
            "        acc += tl.load(w + s * M * N, mask=out_mask, other=0.0)",
            *mask_lines,
            *epi.body(index, "out_mask"),
            "    y_ptrs = y_ptr + bt * ys_b + rm[:, None] * ys0 + rn[None, :] * ys1",
            "    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)",
        ]
    )
