"""Two rewrites of a lowered program that save launches and memory traffic.

1. Sums of depthwise convolutions over the same input (UniRepLKNet's dilated branches) become one
   multi-branch ``dwconv`` node: one pass over the input, one output write.
2. An elementwise node reading exactly one anchor (conv, 1x1 conv, matmul, spmm) whose result it alone
   uses, at the anchor's shape, becomes that anchor's epilogue (bias, activation, gating, ``D*u`` skip).
"""

from __future__ import annotations

from agents.template.ir import (
    EPILOGUE_KINDS,
    Acc,
    Bin,
    Expr,
    LeafE,
    Node,
    NodeE,
    NodeRef,
    Un,
    expr_leaves,
    expr_nodes,
)


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


def optimise(nodes: list[Node], output: int) -> int:
    """Rewrite ``nodes`` in place; returns the id of the node holding the output."""
    _merge_dwconv_sums(nodes)
    return _fuse_epilogues(nodes, output)


__all__ = ["LeafE", "optimise"]
