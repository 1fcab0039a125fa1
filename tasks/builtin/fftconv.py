"""Long convolutions computed by FFT, as in H3, Hyena and FlashFFTConv (family ``fftconv``).

FLOPs are those of the FFT algorithm (the op's definition), using the usual estimate of
2.5 N log2 N real FLOPs for a real FFT of length N (half of a complex FFT's 5 N log2 N):
forward FFTs of u (per batch and channel) and k (per channel), the inverse FFT, the complex
pointwise product (6 FLOPs per bin), the D skip (2 per element) and, gated, two more multiplies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tasks.build import define_task, dtype_bytes
from tasks.model import Shape, Task, Tier
from verifier.spec import Tolerance

# bf16/fp16 FFT convolutions (FlashFFTConv runs its FFTs as 16-bit tensor-core matmuls) round at
# every one of O(log L) stages; these bounds admit that and still reject a wrong or truncated filter.
_TOLERANCES = {
    "bfloat16": Tolerance(atol=5e-2, rtol=5e-2, max_rel_l2=2e-2),
    "float16": Tolerance(atol=2e-2, rtol=2e-2, max_rel_l2=5e-3),
}


def _shape(name: str, tier: Tier, note: str, b: int, h: int, length: int, dtype: str = "float32") -> Shape:
    return Shape(name, {"BATCH": b, "CHANNELS": h, "SEQ_LEN": length, "DTYPE": dtype}, tier, note)


def _real_fft_flops(n: int) -> float:
    return 2.5 * n * math.log2(n)


def _flops(gated: bool):
    def flops(p: Mapping[str, Any]) -> float:
        b, h, length = p["BATCH"], p["CHANNELS"], p["SEQ_LEN"]
        n = 2 * length
        per_row = 2 * _real_fft_flops(n) + 6 * (n // 2 + 1) + 2 * length + (2 * length if gated else 0)
        return b * h * per_row + h * _real_fft_flops(n)

    return flops


def _min_bytes(gated: bool):
    def min_bytes(p: Mapping[str, Any]) -> float:
        b, h, length = p["BATCH"], p["CHANNELS"], p["SEQ_LEN"]
        act = b * h * length
        tensors = act * (2 + (2 if gated else 0)) + h * length + h  # u, y, [gates], k, D
        return dtype_bytes(p["DTYPE"]) * tensors

    return min_bytes


_SHAPES = [
    _shape("tiny", "small", "as written", 2, 4, 128),
    _shape("odd", "small", "length not a power of two", 1, 3, 300),
    _shape("tiny_bf16", "small", "bfloat16", 1, 2, 256, "bfloat16"),
    _shape("gpt2_1k", "realistic", "Hyena/H3 at GPT-2-small width (768), L=1024", 16, 768, 1024),
    _shape("hyena_2k_bf16", "realistic", "Hyena-125M-like: width 768, L=2048, bf16", 8, 768, 2048, "bfloat16"),
    _shape("lra_4k", "realistic", "long-range benchmark length 4096, width 256", 32, 256, 4096),
    _shape("hyenadna_32k", "realistic", "HyenaDNA (Nguyen et al., 2023): width 256, L=32768", 4, 256, 32768),
    _shape("hyenadna_1m", "realistic", "HyenaDNA 1M-token context: width 256, L=2^20", 1, 256, 1 << 20),
    _shape("hyenadna_1m_bf16", "realistic", "HyenaDNA 1M-token context, bf16", 1, 256, 1 << 20, "bfloat16"),
]

_REFERENCES = (
    "Fu et al., Hungry Hungry Hippos: Towards Language Modeling with State Space Models (H3), ICLR 2023",
    "Poli et al., Hyena Hierarchy: Towards Larger Convolutional Language Models, ICML 2023",
    "Nguyen et al., HyenaDNA: Long-Range Genomic Sequence Modeling at Single Nucleotide Resolution, NeurIPS 2023",
    "Fu et al., FlashFFTConv: Efficient Convolutions for Long Sequences with Tensor Cores, ICLR 2024",
)

_NOTE = (
    "FFT algorithm: 2.5 N log2 N per real FFT of length N = 2L (u and k forward, y inverse), 6 per "
    "complex product bin, 2 per element for D*u (+2 per element with gating). A direct summation "
    "does more work (O(L^2)); FFTs run as tensor-core matmuls (FlashFFTConv) are counted here as "
    "CUDA-core FLOPs, so such kernels can exceed the compute floor."
)


def _task(gated: bool, **fields: Any) -> Task:
    """A task of the family: the shapes, tolerances, references and cost model both forms share."""
    return define_task(
        shapes=_SHAPES,
        flops=_flops(gated=gated),
        min_bytes=_min_bytes(gated=gated),
        flops_note=_NOTE,
        tolerances=_TOLERANCES,
        references=_REFERENCES,
        **fields,
    )


def tasks() -> list[Task]:
    return [
        _task(
            id="fftconv.long_conv",
            title="Long causal convolution by FFT with D skip (H3/Hyena/FlashFFTConv)",
            description="""
            y = irfft(rfft(u, 2L) * rfft(k, 2L))[..., :L] + D * u, for u (B, H, L), a filter
            k (H, L) as long as the sequence (an input: Hyena generates it every call) and D (H,).
            Equivalent to a causal convolution of length L; a kernel need not use an FFT. Shapes from
            1K (GPT-2-width Hyena/H3) to 1M tokens (HyenaDNA).
            """,
            gated=False,
        ),
        _task(
            id="fftconv.gated_long_conv",
            template="fftconv_gated.py",
            title="Gated long convolution by FFT (Hyena operator, FlashFFTConv gated form)",
            description="""
            x = pregate * u; y = postgate * (irfft(rfft(x, 2L) * rfft(k, 2L))[..., :L] + D * x): the
            order-2 Hyena operator's long convolution between its two gates, which FlashFFTConv fuses
            into one kernel. u, pregate, postgate (B, H, L), k (H, L), D (H,). Same shapes as
            fftconv.long_conv.
            """,
            gated=True,
        ),
    ]
