"""Large-kernel depthwise 2D convolutions of modern ConvNets (family ``dwconv2d``).

Shapes follow the networks' stages at 224x224 input (stage resolutions 56/28/14/7). The batch is
not part of the networks; realistic shapes use 32 (float32) and 64 (16-bit), typical benchmark
batches on one GPU. FLOPs count every kernel tap of every output, padding taps included (2 per
multiply-add), plus bias adds; min bytes = input + output + weights + biases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from tasks.build import define_task, dtype_bytes
from tasks.model import Shape, Task, Tier

_FLOPS_NOTE = (
    "2 FLOPs per multiply-add for every kernel tap of every output (zero-padding taps included), "
    "plus bias adds; all on CUDA cores (depthwise convolution is not a matrix multiply)."
)


def _dw(name: str, tier: Tier, note: str, b: int, c: int, h: int, w: int, kh: int, kw: int, **extra: Any) -> Shape:
    params = {"BATCH": b, "CHANNELS": c, "HEIGHT": h, "WIDTH": w, "KERNEL_H": kh, "KERNEL_W": kw}
    params.setdefault("DILATION", 1)
    params.setdefault("DTYPE", "float32")
    params.update(extra)
    return Shape(name, params, tier, note)


def _square(name: str, tier: Tier, note: str, b: int, c: int, hw: int, dtype: str = "float32", **fixed: Any) -> Shape:
    """A shape of square ``hw`` x ``hw`` images, with the task's ``fixed`` constants (kernel sizes...)."""
    params = {"BATCH": b, "CHANNELS": c, "HEIGHT": hw, "WIDTH": hw, **fixed, "DTYPE": dtype}
    return Shape(name, params, tier, note)


def _elements(p: Mapping[str, Any]) -> int:
    """Elements of the input activation (and of the output: every task here keeps its shape)."""
    return p["BATCH"] * p["CHANNELS"] * p["HEIGHT"] * p["WIDTH"]


def _dw_flops(p: Mapping[str, Any]) -> float:
    return _elements(p) * (2 * p["KERNEL_H"] * p["KERNEL_W"] + 1)


def _dw_bytes(p: Mapping[str, Any]) -> float:
    weights = p["CHANNELS"] * (p["KERNEL_H"] * p["KERNEL_W"] + 1)
    return dtype_bytes(p["DTYPE"]) * (2 * _elements(p) + weights)


def _generic(id: str, title: str, description: str, shapes: list[Shape], references: tuple[str, ...]) -> Task:
    return define_task(
        id=id,
        template="dwconv2d.py",
        title=title,
        description=description,
        shapes=shapes,
        flops=_dw_flops,
        min_bytes=_dw_bytes,
        flops_note=_FLOPS_NOTE,
        references=references,
    )


def _convnext() -> Task:
    n = "ConvNeXt-T (Liu et al., 2022), stage {}: {} channels at {}x{}"
    return _generic(
        "dwconv2d.convnext_7x7",
        "ConvNeXt 7x7 depthwise convolution",
        """
        The token mixer of every ConvNeXt block: a 7x7 depthwise convolution with bias, stride 1,
        padding 3. Realistic shapes are ConvNeXt-T's four stages (widths 96/192/384/768 at
        56/28/14/7 for 224x224 images).
        """,
        [
            _dw("tiny", "small", "as written", 2, 4, 16, 16, 7, 7),
            _dw("odd", "small", "odd, non-square sizes (masking)", 1, 3, 13, 9, 7, 7),
            _dw("tiny_bf16", "small", "bfloat16", 1, 4, 12, 12, 7, 7, DTYPE="bfloat16"),
            _dw("stage1", "realistic", n.format(1, 96, 56, 56), 32, 96, 56, 56, 7, 7),
            _dw("stage2", "realistic", n.format(2, 192, 28, 28), 32, 192, 28, 28, 7, 7),
            _dw("stage3", "realistic", n.format(3, 384, 14, 14), 32, 384, 14, 14, 7, 7),
            _dw("stage4", "realistic", n.format(4, 768, 7, 7), 32, 768, 7, 7, 7, 7),
            _dw("stage1_bf16", "realistic", n.format(1, 96, 56, 56) + ", bf16", 64, 96, 56, 56, 7, 7, DTYPE="bfloat16"),
            _dw(
                "stage3_fp16", "realistic", n.format(3, 384, 14, 14) + ", fp16", 64, 384, 14, 14, 7, 7, DTYPE="float16"
            ),
        ],
        ("Liu et al., A ConvNet for the 2020s (ConvNeXt), CVPR 2022",),
    )


def _replknet() -> Task:
    n = "RepLKNet-31B (Ding et al., 2022), stage {}: {} channels at {}x{}, kernel {}"
    return _generic(
        "dwconv2d.replknet_31x31",
        "RepLKNet 31x31 depthwise convolution",
        """
        RepLKNet's very large depthwise kernel (the deployed, re-parameterised form: one KxK
        depthwise convolution with bias, 'same' padding). RepLKNet-31B uses kernels 31/29/27/13 in
        its stages with widths 128/256/512/1024 at 56/28/14/7; the kernel may exceed the feature
        map (27x27 on 14x14), so most taps of most outputs fall in the padding.
        """,
        [
            _dw("tiny", "small", "as written; kernel larger than the image", 1, 4, 20, 20, 31, 31),
            _dw("odd", "small", "odd sizes", 2, 3, 11, 9, 31, 31),
            _dw("stage1", "realistic", n.format(1, 128, 56, 56, 31), 32, 128, 56, 56, 31, 31),
            _dw("stage2", "realistic", n.format(2, 256, 28, 28, 29), 32, 256, 28, 28, 29, 29),
            _dw("stage3", "realistic", n.format(3, 512, 14, 14, 27), 32, 512, 14, 14, 27, 27),
            _dw(
                "stage1_bf16",
                "realistic",
                n.format(1, 128, 56, 56, 31) + ", bf16",
                64,
                128,
                56,
                56,
                31,
                31,
                DTYPE="bfloat16",
            ),
        ],
        ("Ding et al., Scaling Up Your Kernels to 31x31 (RepLKNet), CVPR 2022",),
    )


def _slak() -> Task:
    n = "SLaK-T-like stage {}: {} channels at {}x{}, kernel {}"
    return _generic(
        "dwconv2d.slak_51x51",
        "SLaK-style 51x51 depthwise convolution",
        """
        A 51x51 depthwise convolution with bias ('same' padding), the kernel size SLaK scales to.
        SLaK itself decomposes each large kernel into a 51x5 and a 5x51 sparse strip plus a small
        square kernel; this task is the dense square kernel those strips stand in for. Shapes follow
        SLaK-T's stages: kernels 51/49/47 at 56/28/14, widths 1.3x ConvNeXt-T's (124/249/499).
        """,
        [
            _dw("tiny", "small", "as written; kernel larger than the image", 1, 3, 18, 18, 51, 51),
            _dw("rect", "small", "non-square image", 1, 2, 8, 20, 51, 51),
            _dw("stage1", "realistic", n.format(1, 124, 56, 56, 51), 32, 124, 56, 56, 51, 51),
            _dw("stage2", "realistic", n.format(2, 249, 28, 28, 49), 32, 249, 28, 28, 49, 49),
            _dw("stage3", "realistic", n.format(3, 499, 14, 14, 47), 32, 499, 14, 14, 47, 47),
            _dw(
                "stage1_bf16",
                "realistic",
                n.format(1, 124, 56, 56, 51) + ", bf16",
                64,
                124,
                56,
                56,
                51,
                51,
                DTYPE="bfloat16",
            ),
        ],
        ("Liu et al., More ConvNets in the 2020s: Scaling up Kernels Beyond 51x51 using Sparsity (SLaK), ICLR 2023",),
    )


def _inception_band(kh: int, kw: int) -> Task:
    axis = "width" if kw > kh else "height"
    n = "InceptionNeXt-T (Yu et al., 2024) stage {}: {} band channels (1/8 of {}) at {}x{}"
    size = f"{kh}x{kw}"
    return _generic(
        f"dwconv2d.inceptionnext_band_{size}",
        f"InceptionNeXt {size} band depthwise convolution",
        f"""
        One band branch of InceptionNeXt's token mixer: a {size} depthwise convolution with bias
        along the {axis}, 'same' padding. It runs on the 1/8 of the channels given to each band
        branch (InceptionNeXt-T: 12/24/48/96 of 96/192/384/768, at 56/28/14/7).
        """,
        [
            _dw("tiny", "small", "as written", 2, 4, 16, 16, kh, kw),
            _dw("odd", "small", "odd sizes", 1, 3, 13, 15, kh, kw),
            _dw("stage1", "realistic", n.format(1, 12, 96, 56, 56), 64, 12, 56, 56, kh, kw),
            _dw("stage2", "realistic", n.format(2, 24, 192, 28, 28), 64, 24, 28, 28, kh, kw),
            _dw("stage3", "realistic", n.format(3, 48, 384, 14, 14), 64, 48, 14, 14, kh, kw),
            _dw(
                "stage1_bf16",
                "realistic",
                n.format(1, 12, 96, 56, 56) + ", bf16",
                128,
                12,
                56,
                56,
                kh,
                kw,
                DTYPE="bfloat16",
            ),
        ],
        ("Yu et al., InceptionNeXt: When Inception Meets ConvNeXt, CVPR 2024",),
    )


def _inception_mixer() -> Task:
    shape = partial(_square, SQUARE_KERNEL=3, BAND_KERNEL=11, BRANCH_RATIO=0.125)

    def groups(p: Mapping[str, Any]) -> int:
        return int(p["CHANNELS"] * p["BRANCH_RATIO"])

    def flops(p: Mapping[str, Any]) -> float:
        hw = p["BATCH"] * p["HEIGHT"] * p["WIDTH"] * groups(p)
        taps = p["SQUARE_KERNEL"] ** 2 + 2 * p["BAND_KERNEL"]
        return hw * (2 * taps + 3)

    def min_bytes(p: Mapping[str, Any]) -> float:
        weights = groups(p) * (p["SQUARE_KERNEL"] ** 2 + 2 * p["BAND_KERNEL"] + 3)
        return dtype_bytes(p["DTYPE"]) * (2 * _elements(p) + weights)

    n = "InceptionNeXt-T stage {}: {} channels at {}x{}"
    return define_task(
        id="dwconv2d.inceptionnext_mixer",
        template="inceptionnext_mixer.py",
        title="InceptionNeXt token mixer (identity, 3x3, 1x11, 11x1 depthwise branches)",
        description="""
        InceptionNeXt's InceptionDWConv2d: channels split into (C - 3g, g, g, g) with g = C/8; the
        first group passes through, the others get a 3x3, a 1x11 and an 11x1 depthwise convolution
        (bias, 'same' padding); the four groups are concatenated. A single kernel can do all of it
        in one pass. Shapes: InceptionNeXt-T stages (96/192/384/768 channels at 56/28/14/7).
        """,
        shapes=[
            shape("tiny", "small", "as written", 2, 16, 16),
            shape("odd", "small", "odd sizes, C not a multiple of 8", 1, 20, 11),
            shape("stage1", "realistic", n.format(1, 96, 56, 56), 64, 96, 56),
            shape("stage2", "realistic", n.format(2, 192, 28, 28), 64, 192, 28),
            shape("stage3", "realistic", n.format(3, 384, 14, 14), 64, 384, 14),
            shape("stage1_bf16", "realistic", n.format(1, 96, 56, 56) + ", bf16", 128, 96, 56, "bfloat16"),
        ],
        flops=flops,
        min_bytes=min_bytes,
        flops_note="Convolved channels only: 2 FLOPs per tap per output plus bias; identity group is a copy.",
        references=("Yu et al., InceptionNeXt: When Inception Meets ConvNeXt, CVPR 2024",),
    )


def _unireplknet() -> Task:
    def shape(name: str, tier: Tier, note: str, b: int, c: int, hw: int, dtype: str = "float32") -> Shape:
        branches = {"BRANCH_KERNELS": [5, 7, 3, 3, 3], "BRANCH_DILATIONS": [1, 2, 3, 4, 5]}  # a list per shape
        return _square(name, tier, note, b, c, hw, dtype, KERNEL_SIZE=13, **branches)

    def taps(p: Mapping[str, Any]) -> int:
        return p["KERNEL_SIZE"] ** 2 + sum(k * k for k in p["BRANCH_KERNELS"])

    def flops(p: Mapping[str, Any]) -> float:
        convs = 1 + len(p["BRANCH_KERNELS"])
        return _elements(p) * (2 * taps(p) + convs + (convs - 1))

    def min_bytes(p: Mapping[str, Any]) -> float:
        weights = p["CHANNELS"] * (taps(p) + 1 + len(p["BRANCH_KERNELS"]))
        return dtype_bytes(p["DTYPE"]) * (2 * _elements(p) + weights)

    n = "UniRepLKNet-T (Ding et al., 2024) stage {}: {} channels at {}x{}"
    return define_task(
        id="dwconv2d.unireplknet_13x13_dilated",
        template="dwconv2d_dilated_branches.py",
        title="UniRepLKNet 13x13 depthwise convolution with dilated branches",
        description="""
        UniRepLKNet's Dilated Reparam Block in its training form: a 13x13 depthwise convolution plus
        parallel depthwise branches with kernels 5/7/3/3/3 and dilations 1/2/3/4/5 (all 'same'
        padding, each with a bias standing for its folded batch norm), summed. At inference the
        branches merge into one 13x13 kernel; a kernel may do that merge itself or fuse the sum.
        Shapes: UniRepLKNet-T's large-kernel stages (160/320/640 channels at 28/14/7).
        """,
        shapes=[
            shape("tiny", "small", "as written", 2, 4, 16),
            shape("odd", "small", "odd size", 1, 3, 11),
            shape("stage2", "realistic", n.format(2, 160, 28, 28), 32, 160, 28),
            shape("stage3", "realistic", n.format(3, 320, 14, 14), 32, 320, 14),
            shape("stage4", "realistic", n.format(4, 640, 7, 7), 32, 640, 7),
            shape("stage3_bf16", "realistic", n.format(3, 320, 14, 14) + ", bf16", 64, 320, 14, "bfloat16"),
        ],
        flops=flops,
        min_bytes=min_bytes,
        flops_note="Every branch counted separately (2 FLOPs per tap per output), plus biases and the sum.",
        references=("Ding et al., UniRepLKNet: A Universal Perception Large-Kernel ConvNet, CVPR 2024",),
    )


def _van_lka() -> Task:
    def flops(p: Mapping[str, Any]) -> float:
        # 5x5 dw + bias, 7x7 dw + bias, 1x1 (C MACs) + bias, the multiply.
        return _elements(p) * ((2 * 25 + 1) + (2 * 49 + 1) + (2 * p["CHANNELS"] + 1) + 1)

    def tensor_flops(p: Mapping[str, Any]) -> float:
        return _elements(p) * 2 * p["CHANNELS"]  # the 1x1 convolution is a GEMM

    def min_bytes(p: Mapping[str, Any]) -> float:
        c = p["CHANNELS"]
        weights = c * 25 + c * 49 + c * c + 3 * c
        return dtype_bytes(p["DTYPE"]) * (2 * _elements(p) + weights)

    n = "VAN-B2 (Guo et al., 2023) stage {}: {} channels at {}x{}"
    return define_task(
        id="dwconv2d.van_lka",
        template="van_lka.py",
        title="VAN large-kernel attention (5x5 dw, 7x7 dw dilation 3, 1x1, multiply)",
        description="""
        The Large Kernel Attention of the Visual Attention Network: a 5x5 depthwise convolution, a
        7x7 depthwise convolution with dilation 3 (a 21x21 receptive field), a 1x1 convolution, and
        the product of the result with the input. Shapes: VAN-B2's stages (64/128/320/512 channels
        at 56/28/14/7).
        """,
        shapes=[
            _square("tiny", "small", "as written", 2, 4, 16),
            _square("odd", "small", "odd size", 1, 6, 13),
            _square("stage1", "realistic", n.format(1, 64, 56, 56), 32, 64, 56),
            _square("stage2", "realistic", n.format(2, 128, 28, 28), 32, 128, 28),
            _square("stage3", "realistic", n.format(3, 320, 14, 14), 32, 320, 14),
            _square("stage4", "realistic", n.format(4, 512, 7, 7), 32, 512, 7),
            _square("stage1_bf16", "realistic", n.format(1, 64, 56, 56) + ", bf16", 64, 64, 56, "bfloat16"),
        ],
        flops=flops,
        min_bytes=min_bytes,
        tensor_flops=tensor_flops,
        flops_note="Depthwise taps on CUDA cores; the 1x1 convolution's 2*C FLOPs per output on tensor cores.",
        references=("Guo et al., Visual Attention Network, Computational Visual Media 2023",),
    )


def tasks() -> list[Task]:
    return [
        _convnext(),
        _replknet(),
        _slak(),
        _unireplknet(),
        _inception_band(1, 11),
        _inception_band(11, 1),
        _inception_mixer(),
        _van_lka(),
    ]
