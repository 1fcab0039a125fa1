"""Fused normalisations: a row's statistics and its normalised output in one kernel.

A ``norm`` node normalises its operand ``x`` over the reduced dims (``attrs["dims"]``) with statistics
of those dims: ``moments`` (mean and biased variance: layer, group, instance and batch norm),
``logsumexp`` (max and sum of ``exp(x - max)``: softmax and log-softmax over any dim) or one
reduction (``sum``/``mean``/``max``/``min``) of a per-element expression of ``x`` (``attrs["pre"]``,
``Acc`` standing for the element: RMSNorm's mean of squares, L1/L2 normalisation). Its ``epilogue`` is
the output: ``Acc`` the element, ``Stat`` the row's statistics (``mean``, ``var``; ``top``, ``total``;
``s0``), other
leaves (weights, biases) read through their broadcast strides.

The launcher views the contiguous operand as ``(P, O, Q, I)``: the statistics are over ``P * Q`` values
(``M``) for each of the ``O * I`` rows ``r = o * I + i``. Adjacent reduced dims give ``P = 1`` (``O``
the dims before, ``Q`` the reduced ones, ``I`` those after); batch norm's ``(0, 2, ...)`` gives
``P = N``, ``O = C``; group norm is ``O = N * G`` rows of ``Q = C / G * spatial`` values. A row of at most
the profile's ``row_elements`` values (with enough rows a program for whole sectors over a middle dim)
is loaded once: statistics and output from registers, one read and one write of ``x``. A longer row is
looped over twice (per-lane Welford statistics, merged across lanes, for ``moments``): two reads and one
write, never a row-sized block in registers. Over a middle dim (``I > 1``) a program takes at least
``COALESCE`` neighbouring rows, so each of its loads reads runs of that many contiguous values.
"""

from __future__ import annotations

import re

from agents.template.ir import Node, Stat
from agents.template.templates.common import Ctx, Epilogue, warps
from agents.template.templates.rows import ROW_ELEMENTS, contiguous_input

COALESCE = 64
"""Neighbouring rows a program takes at least over a middle dim: a load then reads runs of 64 values
(256 bytes: 8 sectors, 9 when the run starts unaligned, 89%)."""

MEAN, VAR, STAT = Stat("mean_b"), Stat("var_b"), Stat("s0_b")
TOP, TOTAL = Stat("top_b"), Stat("total_b")
"""``logsumexp`` statistics: a row's max and its sum of ``exp(x - max)`` (softmax, log-softmax)."""
"""The statistics as an epilogue reads them (a row's value broadcast over the row)."""
STAT_OPS = ("sum", "mean", "max", "min")

_NEUTRAL = {"sum": "0.0", "mean": "0.0", "max": "-float('inf')", "min": "float('inf')"}


def _view_lines(node: Node, p: str) -> list[str]:
    """``{p}P, {p}O, {p}Q, {p}I`` of the contiguous operand ``{p}x`` (shape ``{p}shape``)."""
    rank = int(node.attrs["rank"])
    dims = sorted(node.attrs["dims"])
    groups = node.attrs.get("groups")
    if groups:
        return [f"{p}P, {p}O, {p}Q, {p}I = 1, {p}shape[0] * {int(groups)}, _prod({p}shape[1:]) // {int(groups)}, 1"]
    if dims[0] == 0 and len(dims) > 1 and dims[1:] == list(range(2, rank)):
        return [f"{p}P, {p}O, {p}Q, {p}I = {p}shape[0], {p}shape[1], _prod({p}shape[2:]), 1"]
    a, b = dims[0], dims[-1] + 1
    return [f"{p}P, {p}O, {p}Q, {p}I = 1, _prod({p}shape[:{a}]), _prod({p}shape[{a}:{b}]), _prod({p}shape[{b}:])"]


def supported_dims(rank: int, dims: tuple[int, ...]) -> bool:
    """Whether a ``norm`` node can reduce over ``dims`` of a rank-``rank`` operand without a copy."""
    dims_l = sorted(dims)
    if not dims_l:
        return False
    if dims_l == list(range(dims_l[0], dims_l[-1] + 1)):
        return True
    return dims_l[0] == 0 and len(dims_l) > 1 and dims_l[1:] == list(range(2, rank))


def _stats(node: Node) -> tuple[list[str], list[str], list[str], list[str]]:
    """Kernel lines: statistics of one whole-row tile; the looped form's init, accumulation, final."""
    stat = node.attrs["stat"]
    if stat == "moments":
        one = [
            "mean = tl.sum(xv, axis=1) / M",
            "d = tl.where(ok, xv - mean[:, None], 0.0)",
            "var = tl.sum(d * d, axis=1) / M",
        ]
        init = [
            "cnt = tl.zeros([BLOCK_R, BLOCK_N], dtype=tl.float32)",
            "mu = tl.zeros([BLOCK_R, BLOCK_N], dtype=tl.float32)",
            "m2 = tl.zeros([BLOCK_R, BLOCK_N], dtype=tl.float32)",
        ]
        acc = [
            "cnt += tl.where(ok, 1.0, 0.0)",
            "delta = tl.where(ok, xv - mu, 0.0)",
            "mu += delta / tl.maximum(cnt, 1.0)",
            "m2 += delta * tl.where(ok, xv - mu, 0.0)",
        ]
        final = [
            "mean = tl.sum(cnt * mu, axis=1) / M",
            "spread = tl.where(cnt > 0.0, mu - mean[:, None], 0.0)",
            "var = (tl.sum(m2, axis=1) + tl.sum(cnt * spread * spread, axis=1)) / M",
        ]
        names = ["mean", "var"]
    elif stat == "logsumexp":  # a row's max and sum of exp(x - max), online over chunks (as softmax_rows_looped)
        one = [
            "xm = tl.where(ok, xv, -float('inf'))",
            "top = tl.max(xm, axis=1)",
            "total = tl.sum(tl.where(ok, tl.exp(xm - top[:, None]), 0.0), axis=1)",
        ]
        init = [
            "mm = tl.full([BLOCK_R, BLOCK_N], -float('inf'), tl.float32)",
            "ss = tl.zeros([BLOCK_R, BLOCK_N], dtype=tl.float32)",
        ]
        acc = [
            "xm = tl.where(ok, xv, -float('inf'))",
            "m_new = tl.maximum(mm, xm)",
            "ss = tl.where(m_new > -float('inf'), ss * tl.exp(mm - m_new) + tl.exp(xm - m_new), 0.0)",
            "mm = m_new",
        ]
        final = [
            "top = tl.max(mm, axis=1)",
            "total = tl.sum(tl.where(mm > -float('inf'), ss * tl.exp(mm - top[:, None]), 0.0), axis=1)",
        ]
        names = ["top", "total"]
    else:
        neutral = _NEUTRAL[stat]
        pre = Epilogue(node.attrs.get("pre"), int(node.attrs["rank"])).body([], "ok", acc="pv", indent="")
        pre = [re.sub(r"\bv(\d+)\b", r"q\1", line) for line in pre]  # the output's temporaries are v1...
        combine = {"sum": "tl.sum", "mean": "tl.sum", "max": "tl.max", "min": "tl.min"}[stat]
        merge = {"sum": "part + pv", "mean": "part + pv", "max": "tl.maximum(part, pv)", "min": "tl.minimum(part, pv)"}
        scale = " / M" if stat == "mean" else ""
        value = ["pv = xv", *pre, f"pv = tl.where(ok, pv, {neutral})"]
        one = [*value, f"s0 = {combine}(pv, axis=1){scale}"]
        init = [f"part = tl.full([BLOCK_R, BLOCK_N], {neutral}, tl.float32)"]
        acc = [*value, f"part = {merge[stat]}"]
        final = [f"s0 = {combine}(part, axis=1){scale}"]
        names = ["s0"]
    broadcast = [f"{n}_b = {n}[:, None]" for n in names]
    return one + broadcast, init, acc, final + broadcast


def _split(value: str, sizes: list[int], name: str) -> list[str]:
    """Lines that split the 1D index ``value`` over dims ``sizes`` (``S<d>``, row-major) into ``<name><d>``."""
    if not sizes:
        return []
    lines = [f"rem_{name} = {value}"]
    for k, d in enumerate(reversed(sizes)):
        if k == len(sizes) - 1:
            lines.append(f"{name}{d} = rem_{name}")
        else:
            lines += [f"{name}{d} = rem_{name} % S{d}", f"rem_{name} = rem_{name} // S{d}"]
    return lines


def _index(node: Node) -> tuple[list[str], list[str], list[str]]:
    """Where a weight or bias is read: the element's index in each output dim, as a row part (from ``r``,
    once a program) plus a column part (from ``m``, once a chunk), each a 1D vector, so a tile's index
    costs a broadcast add, not a division per element. Returns the row lines, the chunk lines and the
    per-dim index expressions."""
    rank = int(node.attrs["rank"])
    dims = sorted(node.attrs["dims"])
    groups = node.attrs.get("groups")
    if groups:
        g = int(groups)
        spatial = list(range(2, rank))
        rows = ["rn = r // " + str(g), f"rg = (r % {g}) * (S1 // {g})"]
        sp = " * ".join(f"S{d}" for d in spatial) or "1"
        cols = [f"cc = m // ({sp})", *_split(f"m % ({sp})", spatial, "ca")]
        index = ["rn[:, None]", "(rg[:, None] + cc[None, :])", *[f"ca{d}[None, :]" for d in spatial]]
        return rows, cols, index
    if dims[0] == 0 and len(dims) > 1 and dims[1:] == list(range(2, rank)):
        spatial = list(range(2, rank))
        cols = _split("m % Q", spatial, "ca")
        index = ["(m // Q)[None, :]", "r[:, None]", *[f"ca{d}[None, :]" for d in spatial]]
        return [], cols, index
    a, b = dims[0], dims[-1] + 1
    rows = _split("r // I", list(range(a)), "ro") + _split("r % I", list(range(b, rank)), "ri")
    cols = _split("m", list(range(a, b)), "ca")
    index = [f"ro{d}[:, None]" if d < a else f"ri{d}[:, None]" if d >= b else f"ca{d}[None, :]" for d in range(rank)]
    return rows, cols, index


def emit_norm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    rank = int(node.attrs["rank"])
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    epi = Epilogue(node.epilogue, rank)
    # a weight or bias (and its index) is a second tile in registers: half the elements then
    cap = int(ctx.params.get("row_elements", ROW_ELEMENTS)) // (2 if epi.inputs else 1)
    lines = [
        *contiguous_input(x, alloc, p),
        *_view_lines(node, p),
        *epi.prelude(ctx, f"{p}shape", p),
        f"{p}M = {p}P * {p}Q",
        f"{p}rows = {p}O * {p}I",
        f"{p}bm = triton.next_power_of_2(max(1, {p}M))",
        # rows a program takes at least: over a middle dim, enough neighbours for whole sectors
        f"{p}least = min({COALESCE}, triton.next_power_of_2({p}I)) if {p}I > 1 else 1",
        f"{p}one = {p}bm * {p}least <= {cap}",
        f"if {p}one:  # whole rows in registers: x read once",
        f"    {p}bn = {p}bm",
        f"    {p}br = max({p}least, min({cap} // {p}bn, triton.next_power_of_2(max(1, {p}rows))))",
        "else:  # rows too long: statistics over chunks, then the output (x read twice)",
        # several rows a chunk over the last dims: a weight's chunk is read once for them
        f"    {p}br = {p}least if {p}I > 1 else min(4, triton.next_power_of_2(max(1, {p}rows)))",
        f"    {p}bn = max(1, min({p}bm, ({cap} // 4) // {p}br))",
        f"{ctx.name}[(triton.cdiv({p}rows, {p}br),)]({p}x, {out}, {p}P, {p}O, {p}Q, {p}I, *{p}shape, "
        + epi.call_args(p)
        + f"ONE_PASS={p}one, BLOCK_R={p}br, BLOCK_N={p}bn, {warps(ctx.params)})",
    ]
    one, init, acc, final = _stats(node)
    row_lines, col_lines, index = _index(node) if epi.inputs else ([], [], [])
    output = ["acc = xv", *[line.strip() for line in epi.body(index, "ok", indent="")]]
    store = "tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)"
    tile = [
        "m = m0 + cols",
        "ok = r_ok[:, None] & (m < M)[None, :]",
        "offs = base[:, None] + ((m // Q) * (O * Q * I) + (m % Q) * I)[None, :]",
        "xv = tl.load(x_ptr + offs, mask=ok, other=0.0).to(tl.float32)",
    ]

    def ind(block: list[str], n: int) -> list[str]:
        return [" " * n + line for line in block]

    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                ["x_ptr, y_ptr, P, O, Q, I, " + "".join(f"S{d}, " for d in range(rank))],
                ["ONE_PASS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr,"],
            ),
            "    r = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)",
            "    r_ok = r < O * I",
            "    base = (r // I) * (Q * I) + r % I",
            "    M = P * Q",
            "    cols = tl.arange(0, BLOCK_N).to(tl.int64)",
            *ind(row_lines, 4),
            "    if ONE_PASS:",
            "        m0 = 0",
            *ind(tile, 8),
            *ind(one, 8),
            *ind(col_lines, 8),
            *ind(output, 8),
            *ind([store], 8),
            "    else:",
            *ind(init, 8),
            "        for m0 in range(0, M, BLOCK_N):",
            *ind(tile, 12),
            *ind(acc, 12),
            *ind(final, 8),
            "        for m0 in range(0, M, BLOCK_N):",
            *ind(tile, 12),
            *ind(col_lines, 12),
            *ind(output, 12),
            *ind([store], 12),
        ]
    )
    return kernel, lines
