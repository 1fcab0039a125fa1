"""Long 1D depthwise convolutions whose kernel is as long as the sequence (family ``conv1d``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.build import define_task, dtype_bytes
from tasks.model import Shape, Task, Tier


def _shape(
    name: str, tier: Tier, note: str, b: int, c: int, length: int, k: int | None = None, dtype: str = "float32"
) -> Shape:
    params = {"BATCH": b, "CHANNELS": c, "SEQ_LEN": length, "KERNEL_SIZE": length if k is None else k, "DTYPE": dtype}
    return Shape(name, params, tier, note)


def causal_taps(seq_len: int, kernel_size: int) -> int:
    """Multiply-adds of one causal channel: sum over t < L of min(t + 1, K)."""
    if kernel_size >= seq_len:
        return seq_len * (seq_len + 1) // 2
    return kernel_size * seq_len - kernel_size * (kernel_size - 1) // 2


def _flops(p: Mapping[str, Any]) -> float:
    rows = p["BATCH"] * p["CHANNELS"]
    return rows * (2 * causal_taps(p["SEQ_LEN"], p["KERNEL_SIZE"]) + p["SEQ_LEN"])


def _min_bytes(p: Mapping[str, Any]) -> float:
    act = p["BATCH"] * p["CHANNELS"] * p["SEQ_LEN"]
    return dtype_bytes(p["DTYPE"]) * (2 * act + p["CHANNELS"] * (p["KERNEL_SIZE"] + 1))


def tasks() -> list[Task]:
    return [
        define_task(
            id="conv1d.long_causal",
            title="Causal depthwise 1D convolution with a sequence-long kernel",
            description="""
            y[b, c, t] = bias[c] + sum_{j <= t} w[c, j] x[b, c, t - j]: the convolution of
            continuous-kernel models (CKConv, FlexConv) and SGConv, whose kernel is as long as the
            input. The kernel (C, K) is a parameter (those models generate it with a small network).
            Shapes: CKCNN on sequential MNIST (L=784, 30 channels) and raw Speech Commands
            (L=16000), sequential CIFAR-10 (L=1024) and LRA Path-X (L=16384, SGConv); channel widths
            are typical of these models rather than exact. The reference is computed directly
            (conv1d), in float32.
            """,
            shapes=[
                _shape("tiny", "small", "as written", 2, 4, 64),
                _shape("odd", "small", "odd length", 1, 3, 150),
                _shape("short_kernel", "small", "kernel shorter than the sequence", 2, 2, 120, 40),
                _shape("tiny_bf16", "small", "bfloat16", 1, 2, 96, dtype="bfloat16"),
                _shape("smnist", "realistic", "CKCNN, sequential MNIST: L=784, 30 channels", 64, 30, 784),
                _shape("scifar", "realistic", "sequential CIFAR-10: L=1024, 128 channels", 64, 128, 1024),
                _shape("speech_raw", "realistic", "CKCNN, raw Speech Commands: L=16000, 30 channels", 16, 30, 16000),
                _shape("pathx", "realistic", "SGConv, LRA Path-X: L=16384, 64 channels", 8, 64, 16384),
                _shape("scifar_bf16", "realistic", "sequential CIFAR-10, bf16", 64, 128, 1024, dtype="bfloat16"),
            ],
            flops=_flops,
            min_bytes=_min_bytes,
            flops_note=(
                "Direct causal summation: 2 FLOPs per multiply-add over the causal taps plus the bias. "
                "An FFT-based kernel does O(L log L) work and can run below this compute floor; the "
                "memory floor still holds."
            ),
            references=(
                "Romero et al., CKConv: Continuous Kernel Convolution for Sequential Data, ICLR 2022",
                "Romero et al., FlexConv: Continuous Kernel Convolutions with Differentiable Kernel Sizes, ICLR 2022",
                "Li et al., What Makes Convolutional Models Great on Long Sequence Modeling? (SGConv), ICLR 2023",
            ),
        )
    ]
