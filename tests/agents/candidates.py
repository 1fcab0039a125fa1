"""Scripted LLM answers for the bundled ConvNeXt 7x7 depthwise reference (verifier/examples)."""

from __future__ import annotations

from verifier.examples import CANDIDATE

HONEST = CANDIDATE.read_text(encoding="utf-8")

SYNTAX_ERROR = HONEST.replace("class ModelNew(nn.Module):", "class ModelNew(nn.Module)\n    # missing colon")

COMPILE_ERROR = HONEST.replace("acc += x.to(tl.float32) * w.to(tl.float32)", "acc += x.to(tl.float32) * w_undefined")

CHEAT = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        return F.conv2d(x, self.conv.weight, self.conv.bias, padding=self.conv.padding, groups=self.conv.groups)
"""

SLOW = HONEST.replace("block_h, block_w = 16, 16", "block_h, block_w = 8, 8")
BETTER = HONEST.replace("block_h, block_w = 16, 16", "block_h, block_w = 16, 32")

assert SYNTAX_ERROR != HONEST and COMPILE_ERROR != HONEST and SLOW != HONEST and BETTER != HONEST
