"""Two rewrites of a lowered program that save launches and memory traffic.

1. Sums of depthwise convolutions over the same input (UniRepLKNet's dilated branches) become one
   multi-branch ``dwconv`` node: one pass over the input, one output write.
2. An elementwise node reading exactly one anchor (conv, 1x1 conv, matmul, spmm) whose result it alone
   uses, at the anchor's shape, becomes that anchor's epilogue (bias, activation, gating, ``D*u`` skip).
3. An elementwise node at an input's shape that reads one keepdim reduction (sum, mean, max, min) of
   that input (or of an elementwise expression of it alone), which nothing else reads, becomes one
   fused ``norm`` node (RMSNorm's ``x / sqrt(mean(x**2) + eps)``, L1/L2 normalisation): statistics and
   output in one kernel instead of three, the input read once (twice for long rows).
4. A reduction of an elementwise expression that nothing else reads, of inputs or parameters of the
   reduced shape (or, over adjacent dims, broadcast over its leading dims: hinge loss's targets), evaluates
   it on the values it loads (``attrs["pre"]``) instead of reading a buffer the expression was written to.
5. A CSR sparse x dense product (``spmm``) of a plain matrix product X W that nothing else reads (the GCN
   layer's ``A_hat @ (x @ W^T)``) becomes one ``spmm_mm`` node reading X and W: A (X W) = (A X) W, the
   aggregation and the projection in one kernel (``templates/sparse.py``), X W never written.
"""

from __future__ import annotations

from agents.template.ir import (
    EPILOGUE_KINDS,
    Acc,
    Bin,
    Const,
    Expr,
    Leaf,
    LeafE,
    Node,
    NodeE,
    NodeRef,
    Un,
    Where,
    expr_leaves,
    expr_nodes,
)
from agents.template.templates.norm import STAT, STAT_OPS, supported_dims


def _uses(nodes: list[Node]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for n in nodes:
        refs = [v.node for v in n.operands.values() if isinstance(v, NodeRef)]
        refs += [p.node for p in n.attrs.get("pieces", []) if isinstance(p, NodeRef)]
        refs += [a.node for a in n.attrs.get("args", ()) if isinstance(a, NodeRef)]
        refs += expr_nodes(n.epilogue)
        for r in set(refs):
            counts[r] = counts.get(r, 0) + 1
    return counts


def _rebuild(expr: Expr, fn) -> Expr:  # type: ignore[no-untyped-def]
    if isinstance(expr, Bin):
        return fn(Bin(expr.op, _rebuild(expr.a, fn), _rebuild(expr.b, fn)))
    if isinstance(expr, Un):
        return fn(Un(expr.op, _rebuild(expr.x, fn), expr.args))
    if isinstance(expr, Where):
        return fn(Where(_rebuild(expr.cond, fn), _rebuild(expr.a, fn), _rebuild(expr.b, fn)))
    return fn(expr)


def _merge_dwconv_sums(nodes: list[Node]) -> None:
    by_id = {n.id: n for n in nodes}
    uses = _uses(nodes)
    removed: set[int] = set()

    def mergeable(a: Node, b: Node) -> bool:
        return (
            a.kind == b.kind == "dwconv"
            and a.epilogue is None
            and b.epilogue is None
            and a.operands.get("x") == b.operands.get("x")
            and a.attrs.get("spatial") == b.attrs.get("spatial") == 2
            and a.shape == b.shape
            and {br.stride for br in a.branches + b.branches} == {a.branches[0].stride}
            and uses.get(a.id) == 1
            and uses.get(b.id) == 1
        )

    def merge(e: Expr) -> Expr:
        if isinstance(e, Bin) and e.op == "add" and isinstance(e.a, NodeE) and isinstance(e.b, NodeE):
            a, b = by_id[e.a.node], by_id[e.b.node]
            if a.id not in removed and b.id not in removed and mergeable(a, b):
                a.branches.extend(b.branches)
                removed.add(b.id)
                return NodeE(a.id)
        return e

    for n in nodes:
        if n.kind == "ewise" and n.epilogue is not None:
            n.epilogue = _rebuild(n.epilogue, merge)
    nodes[:] = [n for n in nodes if n.id not in removed]


def _replace_refs(nodes: list[Node], old: int, new: int) -> None:
    for n in nodes:
        for key, val in list(n.operands.items()):
            if val == NodeRef(old):
                n.operands[key] = NodeRef(new)
        if "pieces" in n.attrs:
            n.attrs["pieces"] = [NodeRef(new) if p == NodeRef(old) else p for p in n.attrs["pieces"]]
        if "args" in n.attrs:  # a view node's run-time sizes may name a node (view_as)
            n.attrs["args"] = tuple(NodeRef(new) if a == NodeRef(old) else a for a in n.attrs["args"])
        if n.epilogue is not None:
            n.epilogue = _rebuild(n.epilogue, lambda e: NodeE(new) if isinstance(e, NodeE) and e.node == old else e)


def _fits(anchor: Node, ewise: Node) -> bool:
    if anchor.shape is not None and ewise.shape is not None:
        return anchor.shape == ewise.shape
    rank = anchor.rank or ewise.rank
    return rank is None or all((leaf.rank or 0) <= rank for leaf in expr_leaves(ewise.epilogue))


def _fuse_epilogues(nodes: list[Node], output: int) -> int:
    changed = True
    while changed:
        changed = False
        uses = _uses(nodes)
        by_id = {n.id: n for n in nodes}
        for e in nodes:
            if e.kind != "ewise" or e.epilogue is None:
                continue
            anchors = set(expr_nodes(e.epilogue))
            if len(anchors) != 1:
                continue
            anchor = by_id[anchors.pop()]
            if anchor.kind not in EPILOGUE_KINDS or anchor.epilogue is not None or uses.get(anchor.id) != 1:
                continue
            if not _fits(anchor, e):
                continue
            epilogue = _rebuild(e.epilogue, lambda x, a=anchor.id: Acc() if isinstance(x, NodeE) and x.node == a else x)
            anchor.epilogue = None if isinstance(epilogue, Acc) else epilogue
            nodes.remove(e)
            _replace_refs(nodes, e.id, anchor.id)
            if output == e.id:
                output = anchor.id
            changed = True
            break
    return output


def _source_of_reduction(reduction: Node, by_id: dict[int, Node]) -> tuple[Leaf, Expr | None, Node | None] | None:
    """The input leaf a reduction reads, the elementwise expression of it reduced (``Acc``: the leaf's
    element; None: the leaf itself) and the elementwise node computing it; None when the reduction reads
    anything else."""
    operand = reduction.operands.get("x")
    if isinstance(operand, Leaf):
        return (operand, None, None) if not operand.flip else None
    if not isinstance(operand, NodeRef):
        return None
    pre = by_id.get(operand.node)
    if pre is None or pre.kind != "ewise" or pre.epilogue is None or expr_nodes(pre.epilogue):
        return None
    leaves = expr_leaves(pre.epilogue)
    if len(leaves) != 1 or leaves[0].flip:
        return None
    if any(not isinstance(e, LeafE | Const | Un | Bin) for e in pre.epilogue.walk()):
        return None
    leaf = leaves[0]
    return leaf, _rebuild(pre.epilogue, lambda e: Acc() if isinstance(e, LeafE) and e.leaf == leaf else e), pre


def _fuse_norms(nodes: list[Node]) -> None:
    uses = _uses(nodes)
    by_id = {n.id: n for n in nodes}
    removed: set[int] = set()
    for e in nodes:
        if e.kind != "ewise" or e.epilogue is None or e.shape is None or e.id in removed:
            continue
        refs = set(expr_nodes(e.epilogue))
        if len(refs) != 1:
            continue
        reduction = by_id[refs.pop()]
        attrs = reduction.attrs
        if (
            reduction.kind != "reduce"
            or attrs.get("op") not in STAT_OPS
            or not attrs.get("keepdim")
            or attrs.get("correction")
            or uses.get(reduction.id) != 1
        ):
            continue
        found = _source_of_reduction(reduction, by_id)
        if found is None:
            continue
        leaf, pre, pre_node = found
        dims = tuple(attrs["dims"])
        if leaf.shape != e.shape or not supported_dims(len(e.shape), dims):
            continue
        epilogue = _rebuild(
            e.epilogue,
            lambda x, r=reduction.id, leaf=leaf: (
                STAT
                if isinstance(x, NodeE) and x.node == r
                else Acc()
                if isinstance(x, LeafE) and x.leaf == leaf
                else x
            ),
        )
        e.kind, e.operands, e.epilogue = "norm", {"x": leaf}, epilogue
        e.attrs = {"stat": attrs["op"], "pre": pre, "dims": dims, "rank": len(e.shape), "groups": None}
        removed.add(reduction.id)
        if pre_node is not None and uses.get(pre_node.id) == 1:
            removed.add(pre_node.id)
    nodes[:] = [n for n in nodes if n.id not in removed]


def _trailing(shape: tuple[int, ...] | None, full: tuple[int, ...]) -> bool:
    """Whether ``shape`` (leading 1s aside) is the trailing dims of ``full``: broadcast over its leading dims."""
    if shape is None:
        return False
    dims = list(shape)
    while dims and dims[0] == 1:
        dims.pop(0)
    return len(dims) < len(full) and tuple(dims) == full[len(full) - len(dims) :]


def _fold_reduced_expressions(nodes: list[Node]) -> None:
    uses = _uses(nodes)
    by_id = {n.id: n for n in nodes}
    removed: set[int] = set()
    for r in nodes:
        operand = r.operands.get("x")
        if r.kind != "reduce" or "pre" in r.attrs or not isinstance(operand, NodeRef) or uses.get(operand.node) != 1:
            continue
        pre = by_id[operand.node]
        if pre.kind != "ewise" or pre.epilogue is None or not pre.shape or expr_nodes(pre.epilogue):
            continue
        leaves = expr_leaves(pre.epilogue)
        full = [leaf for leaf in leaves if leaf.shape == pre.shape]
        dims = sorted(r.attrs.get("dims", ()))
        adjacent = bool(dims) and dims == list(range(dims[0], dims[-1] + 1))
        if not full or any(leaf.flip for leaf in leaves) or len(pre.shape) != int(r.attrs.get("rank", -1)):
            continue
        if any(leaf.shape != pre.shape and not (adjacent and _trailing(leaf.shape, pre.shape)) for leaf in leaves):
            continue
        r.operands = {"x": full[0]}
        r.attrs = {**r.attrs, "pre": pre.epilogue}
        removed.add(pre.id)
    nodes[:] = [n for n in nodes if n.id not in removed]


def _projection_read_only_by(spmm: Node, by_id: dict[int, Node], uses: dict[int, int]) -> Node | None:
    """The plain matmul X W whose product ``spmm`` aggregates, when nothing else reads it (not batched, not
    masked by triu/tril, without an epilogue of its own); else None."""
    dense = spmm.operands.get("x")
    if not isinstance(dense, NodeRef) or uses.get(dense.node) != 1:
        return None
    mm = by_id[dense.node]
    plain = mm.kind == "matmul" and mm.epilogue is None and not mm.attrs
    return mm if plain and (mm.shape is None or len(mm.shape) == 2) else None


def _fuse_sparse_projections(nodes: list[Node]) -> None:
    uses, by_id = _uses(nodes), {n.id: n for n in nodes}
    for spmm in [n for n in nodes if n.kind == "spmm"]:
        mm = _projection_read_only_by(spmm, by_id, uses)
        if mm is not None:
            spmm.kind = "spmm_mm"
            spmm.operands = {**spmm.operands, "x": mm.operands["a"], "w": mm.operands["b"]}
            nodes.remove(mm)


def optimise(nodes: list[Node], output: int) -> int:
    """Rewrite ``nodes`` in place; returns the id of the node holding the output."""
    _merge_dwconv_sums(nodes)
    _fuse_norms(nodes)
    _fold_reduced_expressions(nodes)
    output = _fuse_epilogues(nodes, output)
    _fuse_sparse_projections(nodes)
    return output


__all__ = ["LeafE", "optimise"]
