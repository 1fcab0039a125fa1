"""The template compiler's lowerings, one module per op family, and the one table that says which
lowers each aten op.

A lowering (a *handler*) gets the walker (``recognise.Lowering``), the traced op, its index and output
index and the output's shape; it returns the op's value: a ``Leaf`` (an input or parameter through views
the forward replays), an ``Expr`` (pointwise work fused into its consumer) or a ``NodeRef`` (a kernel
node it added with ``low.add_node``), or raises ``NoTemplate`` saying why not. To add an op: write its
handler in its family's module and register it here.

| module | family |
|---|---|
| ``views`` | views and copies, slices, flips, split/cat, reshapes |
| ``pointwise`` | unary and binary ops, activations, ``masked_fill``, ``where`` (and pointwise ops without a handler) |
| ``convolution`` | convolutions (depthwise, 1x1, direct over 1-3 spatial dims) |
| ``transposed_convolution`` | transposed convolutions |
| ``fft`` | the FFT long-convolution pattern |
| ``matmul`` | mm, addmm, bmm, triu/tril of a product, attention |
| ``reductions`` | reductions, scans, losses, logsumexp |
| ``norms`` | softmax variants, layer/batch/group norm |
| ``pooling`` | max and average pooling |
| ``sparse`` | CSR sparse x dense |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.template.lowering.convolution import convolution
from agents.template.lowering.fft import fft_slice
from agents.template.lowering.matmul import addmm, attention, bmm, mm_op, triangle
from agents.template.lowering.norms import batch_norm, group_norm, layer_norm_any, softmax_any
from agents.template.lowering.pointwise import (
    clamp,
    gelu,
    logical,
    masked_fill,
    pow_op,
    scalar_tensor,
    unary_args,
    where,
)
from agents.template.lowering.pooling import pool
from agents.template.lowering.reductions import (
    arg_reduce,
    cumsum,
    logsumexp,
    loss,
    max_min,
    nll_loss,
    prod_reduce,
    sum_mean,
    var_std,
    vector_norm,
)
from agents.template.lowering.views import IDENTITY_OPS, cat, flip_any, identity, reshape, split, to_copy, view

Handler = Callable[..., Any]
"""``handler(low, op, index, out_index, shape) -> Value``."""

HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(IDENTITY_OPS, identity),
    "aten._to_copy": to_copy,
    "aten.to": to_copy,
    "aten.unsqueeze": view,
    "aten.squeeze": view,
    "aten.t": view,
    "aten.transpose": view,
    "aten.permute": view,
    "aten.select": view,
    "aten.slice": fft_slice,
    "aten.flip": flip_any,
    "aten.gelu": gelu,
    "aten.clamp": clamp,
    "aten.clamp_min": clamp,
    "aten.clamp_max": clamp,
    "aten.pow": pow_op,
    "aten.masked_fill": masked_fill,
    "aten.where": where,
    "aten.scalar_tensor": scalar_tensor,
    "aten.bitwise_and": logical,
    "aten.bitwise_or": logical,
    "aten.convolution": convolution,
    "aten.split_with_sizes": split,
    "aten.cat": cat,
    "aten.mm": mm_op,
    "aten.addmm": addmm,
    "aten.bmm": bmm,
    "aten.triu": triangle,
    "aten.tril": triangle,
    "aten.logsumexp": logsumexp,
    "aten._scaled_dot_product_flash_attention_for_cpu": attention,
    "aten._softmax": softmax_any,
    "aten._log_softmax": softmax_any,
    "aten._safe_softmax": softmax_any,
    "aten.native_layer_norm": layer_norm_any,
    "aten.native_batch_norm": batch_norm,
    "aten._native_batch_norm_legit_no_training": batch_norm,
    "aten.leaky_relu": unary_args,
    "aten.elu": unary_args,
    "aten.softplus": unary_args,
    "aten.hardtanh": unary_args,
    "aten.rsub": unary_args,
    "aten.round": unary_args,
    "aten.sum": sum_mean,
    "aten.nansum": sum_mean,
    "aten.mean": sum_mean,
    "aten.max": max_min,
    "aten.min": max_min,
    "aten.amax": max_min,
    "aten.amin": max_min,
    "aten.argmax": arg_reduce,
    "aten.argmin": arg_reduce,
    "aten.prod": prod_reduce,
    "aten.var": var_std,
    "aten.std": var_std,
    "aten.linalg_vector_norm": vector_norm,
    "aten.norm": vector_norm,
    "aten.mse_loss": loss,
    "aten.l1_loss": loss,
    "aten.smooth_l1_loss": loss,
    "aten.huber_loss": loss,
    "aten.nll_loss_forward": nll_loss,
    "aten.cumsum": cumsum,
    "aten.cumprod": cumsum,
    "aten.view": reshape,
    "aten._unsafe_view": reshape,
    "aten.reshape": reshape,
    "aten.native_group_norm": group_norm,
    **dict.fromkeys(
        (
            "aten.max_pool1d",
            "aten.max_pool2d_with_indices",
            "aten.max_pool3d_with_indices",
            "aten.max_pool2d",
            "aten.max_pool3d",
            "aten.avg_pool1d",
            "aten.avg_pool2d",
            "aten.avg_pool3d",
        ),
        pool,
    ),
}
