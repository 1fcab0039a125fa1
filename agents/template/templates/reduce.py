"""Reductions and scans along any set of dims: one generic kernel each.

The launcher views the operand as ``(O, N, I)``: ``N`` the product of the reduced dims, ``O`` of the
kept dims before them and ``I`` of those after (a free view when the reduced dims are adjacent; other
dim sets are permuted to the end and copied, ``I = 1``). Each program reduces ``BLOCK_R`` output
elements ``r = o * I + i`` over ``N`` in chunks of ``BLOCK_N``, in float32 (over a dim that is not the
last, ``BLOCK_R`` covers at least ``COALESCE`` neighbouring outputs, so each load spans whole
sectors), and stores them in the output's (keepdim or not) contiguous layout. Ops: sum, mean, max,
min, prod, argmax and argmin (the first index on ties, as torch), logsumexp (an online max and sum:
cross entropy's). Scans (cumsum, cumprod, optionally reversed) walk the same view with a running carry
per row.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps

REDUCE_OPS = ("sum", "mean", "max", "min", "prod", "argmax", "argmin", "logsumexp")
SCAN_OPS = ("sum", "prod")

_INIT = {
    "sum": "0.0",
    "mean": "0.0",
    "prod": "1.0",
    "max": "-float('inf')",
    "min": "float('inf')",
    "argmax": "-float('inf')",
    "argmin": "float('inf')",
    "logsumexp": "-float('inf')",
}

COMBINE_HELPERS = """
@triton.jit
def _kiln_mul(a, b):
    return a * b
"""


def _view_lines(node: Node, ctx: Ctx, p: str) -> list[str]:
    """Launch lines defining ``{p}x`` as an ``(O, N, I)`` view (or copy) of the operand and O, N, I."""
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    rank = int(node.attrs["rank"])
    dims = sorted(node.attrs["dims"])
    lines = [f"{p}src = {x}"]
    if rank == 0:
        return [*lines, f"{p}x = {p}src.reshape(1, 1, 1)", f"{p}O, {p}N, {p}I = 1, 1, 1"]
    adjacent = dims == list(range(dims[0], dims[-1] + 1))
    if adjacent:
        a, b = dims[0], dims[-1] + 1
        lines += [
            f"{p}O = _prod({p}src.shape[:{a}])",
            f"{p}N = _prod({p}src.shape[{a}:{b}])",
            f"{p}I = _prod({p}src.shape[{b}:])",
            f"{p}x = {p}src.contiguous().view({p}O, {p}N, {p}I)",
        ]
    else:
        kept = [d for d in range(rank) if d not in dims]
        order = kept + dims
        lines += [
            f"{p}O = _prod([{p}src.shape[d] for d in {kept}])",
            f"{p}N = _prod([{p}src.shape[d] for d in {dims}])",
            f"{p}I = 1",
            f"{p}x = {p}src.permute({', '.join(map(str, order))}).reshape({p}O, {p}N, 1)",
        ]
    return lines


def _out_shape(node: Node, p: str) -> str:
    rank = int(node.attrs["rank"])
    dims = set(node.attrs["dims"])
    keep = bool(node.attrs.get("keepdim"))
    parts = []
    for d in range(rank):
        if d in dims:
            if keep:
                parts.append("1")
        else:
            parts.append(f"{p}src.shape[{d}]")
    return "(" + "".join(f"{s}, " for s in parts) + ")"


COALESCE = 128
"""Outputs a program takes at least when the reduced dim is not the last (``I > 1``): a load of the
tile then reads runs of that many neighbouring elements (at most ``I``): 512 bytes, 16 sectors (17 when
a run starts unaligned, as it does over an odd last dim: 94%; 32 values, 4 sectors or 5, gave 79%)."""


def _blocks(ctx: Ctx, p: str, lines: list[str], inputs: int = 1) -> None:
    """Block sizes; ``inputs``: tiles loaded a chunk (a reduced expression's), the tile split between them."""
    tile = int(ctx.params.get("tile", 4096)) // (2 if inputs > 1 else 1)
    cap_n = int(ctx.params.get("block_n", 1024))
    lines += [
        f"{p}bn = max(2, min({cap_n}, triton.next_power_of_2(max(1, {p}N))))",
        f"{p}tile = {tile}",
        f"if {p}I > 1:  # neighbouring outputs are neighbours in memory: enough of them to fill whole sectors",
        # half the tile: a sm_90 build of the full one takes 254 registers (168 with half)
        f"    {p}tile = {tile // 2}",
        f"    {p}bn = max(2, min({p}bn, {p}tile // min({COALESCE}, triton.next_power_of_2({p}I))))",
        f"{p}br = max(2, min(triton.next_power_of_2(max(1, {p}O * {p}I)), {p}tile // {p}bn))",
    ]


def _pre_inputs(node: Node, ctx: Ctx, p: str, epi: Epilogue) -> list[str]:
    """Launch lines viewing each input of the reduced expression as ``{p}x`` is viewed: ``(O, N, I)``."""
    lines = []
    rank = int(node.attrs["rank"])
    dims = sorted(node.attrs["dims"])
    for k, operand in enumerate(epi.inputs):
        var = ctx.var(operand)
        if k in _broadcast_inputs(node, epi):  # the trailing dims only: read at the flat index modulo its size
            lines.append(f"{p}e{k} = {var}.contiguous().view(1, 1, -1)")
        elif dims == list(range(dims[0], dims[-1] + 1)):
            lines.append(f"{p}e{k} = {var}.expand({p}src.shape).contiguous().view({p}O, {p}N, {p}I)")
        else:
            order = [d for d in range(rank) if d not in dims] + dims
            lines.append(
                f"{p}e{k} = {var}.expand({p}src.shape).permute({', '.join(map(str, order))}).reshape({p}O, {p}N, 1)"
            )
    return lines


def _broadcast_inputs(node: Node, epi: Epilogue) -> set[int]:
    """Inputs of a reduced expression that have fewer dims than it (broadcast over its leading dims)."""
    full = getattr(node.operands["x"], "shape", None)
    return {k for k, op in enumerate(epi.inputs) if full is not None and getattr(op, "shape", full) != full}


def emit_reduce(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """``attrs["pre"]``: an elementwise expression of inputs of the reduced shape, evaluated on the loaded
    values (a loss's per-element terms, a norm's powers): no buffer of it is written and read back."""
    p = f"n{node.id}_"
    op = node.attrs["op"]
    pre = node.attrs.get("pre")
    epi = Epilogue(pre, 3)
    lines = _view_lines(node, ctx, p)
    lines += _pre_inputs(node, ctx, p, epi)
    lines.append(alloc.format(shape=_out_shape(node, p)))
    _blocks(ctx, p, lines, len(epi.inputs))
    lines.append(
        f"{ctx.name}[(triton.cdiv({p}O * {p}I, {p}br),)]({p}x, {out}, {p}O, {p}N, {p}I, "
        + epi.call_args(p)
        + f"BLOCK_R={p}br, BLOCK_N={p}bn, {warps(ctx.params)})"
    )
    init = _INIT[op]
    if pre is None:
        body = [
            "        v = tl.load(x_ptr + base[:, None] + n[None, :] * I, mask=m, other=" + init + ").to(tl.float32)"
        ]
    else:
        body = [
            "        offs = base[:, None] + n[None, :] * I",
            *epi.body(
                [],
                "m",
                acc="v",
                indent="        ",
                flat="offs",
                flat_of={k: f"offs % e{k}_s0" for k in _broadcast_inputs(node, epi)},  # s0: its size
            ),
            f"        v = tl.where(m, v, {init})",
        ]
    if op in ("sum", "mean"):
        body.append("        acc += tl.sum(v, axis=1)")
    elif op == "prod":
        body.append("        acc *= tl.reduce(v, 1, _kiln_mul)")
    elif op in ("max", "min"):
        fn = "tl.maximum" if op == "max" else "tl.minimum"
        body.append(f"        acc = {fn}(acc, tl.{op}(v, axis=1))")
    elif op == "logsumexp":  # the running max in acc, the sum of exp(v - max) in tot, rescaled as it grows
        body += [
            "        m_new = tl.maximum(acc, tl.max(v, axis=1))",
            "        grown = tl.sum(tl.exp(v - m_new[:, None]), axis=1)",
            "        tot = tl.where(m_new > -float('inf'), tot * tl.exp(acc - m_new) + grown, 0.0)",
            "        acc = m_new",
        ]
    else:
        better = ">" if op == "argmax" else "<"
        body += [
            f"        cv = tl.{op[3:]}(v, axis=1)",
            "        ci = tl.min(tl.where(v == cv[:, None], n[None, :], N), axis=1)",
            f"        take = cv {better} acc",
            "        idx = tl.where(take, ci, idx)",
            "        acc = tl.where(take, cv, acc)",
        ]
    correction = float(node.attrs.get("correction", 0.0))
    mean = f"acc / (N - {correction!r})" if correction else "acc / N"
    result = mean if op == "mean" else ("idx" if op.startswith("arg") else "acc")
    if op == "logsumexp":
        result = "acc + tl.log(tot)"
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(x_ptr, y_ptr, O, N, I, {epi.kernel_params()}",
            "        BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):",
            "    r = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)",
            "    r_ok = r < O * I",
            "    base = (r // I) * N * I + r % I",
            f"    acc = tl.full([BLOCK_R], {init}, tl.float32)",
            "    idx = tl.zeros([BLOCK_R], dtype=tl.int64)",
            "    tot = tl.zeros([BLOCK_R], dtype=tl.float32)",
            "    for n0 in range(0, N, BLOCK_N):",
            "        n = n0 + tl.arange(0, BLOCK_N)",
            "        m = r_ok[:, None] & (n < N)[None, :]",
            *body,
            f"    tl.store(y_ptr + r, ({result}).to(y_ptr.dtype.element_ty), mask=r_ok)",
        ]
    )
    return kernel, lines


def emit_scan(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """Inclusive cumsum / cumprod along one dim (``reverse``: from the end), output in the input's shape."""
    p = f"n{node.id}_"
    op = node.attrs["op"]
    lines = _view_lines(node, ctx, p)
    lines.append(alloc.format(shape=f"{p}src.shape"))
    _blocks(ctx, p, lines)
    lines.append(
        f"{ctx.name}[(triton.cdiv({p}O * {p}I, {p}br),)]({p}x, {out}, {p}O, {p}N, {p}I, "
        f"REVERSE={bool(node.attrs.get('reverse'))}, BLOCK_R={p}br, BLOCK_N={p}bn, {warps(ctx.params)})"
    )
    neutral = "0.0" if op == "sum" else "1.0"
    scan = "tl.cumsum(v, axis=1)" if op == "sum" else "tl.cumprod(v, axis=1)"
    combine = "carry[:, None] + c" if op == "sum" else "carry[:, None] * c"
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(x_ptr, y_ptr, O, N, I, REVERSE: tl.constexpr, BLOCK_R: tl.constexpr,",
            "           BLOCK_N: tl.constexpr):",
            "    r = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)",
            "    r_ok = r < O * I",
            "    base = (r // I) * N * I + r % I",
            f"    carry = tl.full([BLOCK_R], {neutral}, tl.float32)",
            "    cols = tl.arange(0, BLOCK_N)",
            "    for n0 in range(0, N, BLOCK_N):",
            "        k = n0 + cols",
            "        if REVERSE:",
            "            n = N - 1 - k",
            "        else:",
            "            n = k",
            "        m = r_ok[:, None] & (k < N)[None, :]",
            "        offs = base[:, None] + n[None, :] * I",
            f"        v = tl.load(x_ptr + offs, mask=m, other={neutral}).to(tl.float32)",
            f"        c = {scan}",
            f"        c = {combine}",
            "        tl.store(y_ptr + offs, c.to(y_ptr.dtype.element_ty), mask=m)",
            "        carry = tl.sum(tl.where(cols[None, :] == BLOCK_N - 1, c, 0.0), axis=1)",
        ]
    )
    return kernel, lines


@triton.jit
def nll_pick(x_ptr, xs0, xs1, t_ptr, ts0, y_ptr, N, IGNORE: tl.constexpr, BLOCK: tl.constexpr):
    """y[i] = -x[i, t[i]] (0 where t[i] is the ignored index): the per-sample negative log-likelihood."""
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = i < N
    t = tl.load(t_ptr + i * ts0, mask=ok, other=IGNORE)
    use = ok & (t != IGNORE)
    v = tl.load(x_ptr + i * xs0 + t * xs1, mask=use, other=0.0).to(tl.float32)
    tl.store(y_ptr + i, (-v).to(y_ptr.dtype.element_ty), mask=ok)


PICK_SOURCE = inspect.getsource(nll_pick.fn)
"""``nll_pick`` as emitted into a candidate (once)."""


def emit_pick(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """Launch lines of ``nll_pick`` over an (N, C) operand and an (N,) target; no kernel of its own."""
    p = f"n{node.id}_"
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    t = ctx.var(node.operands["target"])  # type: ignore[arg-type]
    lines = [
        f"{p}x, {p}t = {x}, {t}",
        f"{p}N = {p}x.shape[0]",
        alloc.format(shape=f"({p}N,)"),
        f"{p}bs = {block(f'{p}N', int(ctx.params.get('block', 1024)), 16)}",
        f"nll_pick[(triton.cdiv({p}N, {p}bs),)]({p}x, {p}x.stride(0), {p}x.stride(1), {p}t, {p}t.stride(0), {out}, "
        f"{p}N, IGNORE={int(node.attrs['ignore_index'])}, BLOCK={p}bs, {warps(ctx.params)})",
    ]
    return "", lines
