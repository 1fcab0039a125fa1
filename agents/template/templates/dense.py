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
        strides = f"{p}a.stride(0), {p}a.stride(1), {p}a.stride(2), {p}b.stride(0), {p}b.stride(1), {p}b.stride(2), "
        strides += f"{out}.stride(0), {out}.stride(1), {out}.stride(2)"
        grid_batch = f"{p}BT"
    else:
        shapes = [f"{p}M, {p}K = {p}a.shape", f"{p}N = {p}b.shape[1]", f"{p}shape = ({p}M, {p}N)"]
        strides = f"0, {p}a.stride(0), {p}a.stride(1), 0, {p}b.stride(0), {p}b.stride(1), 0, {out}.stride(0), "
        strides += f"{out}.stride(1)"
        grid_batch = "1"
    triangle = node.attrs.get("triangle")
    lines = [
        f"{p}a, {p}b = {a}, {b}",
        *shapes,
        *epi.output(ctx, alloc, p),
        f"{p}bm, {p}bn, {p}bk = {block(f'{p}M', bm, 16)}, {block(f'{p}N', bn, 16)}, {block(f'{p}K', bk, 16)}",
        f"{p}grid = (triton.cdiv({p}M, {p}bm) * triton.cdiv({p}N, {p}bn), 1, {grid_batch})",
        f"{p}dp = {dot_precision(f'{p}a', f'{p}b')}",
        f"{ctx.name}[{p}grid]({p}a, {p}b, {out}, {strides}, {p}M, {p}N, {p}K, "
        + epi.call_args(p)
        + f"BLOCK_M={p}bm, BLOCK_N={p}bn, BLOCK_K={p}bk, GROUP_M={int(ctx.params.get('group_m', GROUP_M))}, "
        + f"DOT_PRECISION={p}dp, {warps(ctx.params)})",
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
    return kernel, lines
