"""Honest: launch helpers written with dataclasses (frozen, default_factory), namedtuple, typing.NamedTuple
with a default, enum and functools (lru_cache, wraps), as LLMs write them. The standard library generates
their methods at import time (exec, __defaults__, the signature read): not candidate code.
before this round: sandbox (compile is not allowed in candidate code)
expect: accepted
static: none
"""

import enum
import functools
from collections import namedtuple
from dataclasses import dataclass, field
from typing import NamedTuple

#include honest_dwconv.py: imports, dwconv_kernel

Shape = namedtuple("Shape", ["n", "c", "h", "w"])


class Tile(NamedTuple):
    block: int
    warps: int = 4


class Layout(enum.Enum):
    NCHW = "nchw"
    NHWC = "nhwc"


@dataclass(frozen=True)
class LaunchConfig:
    block: int
    grid: tuple = field(default_factory=tuple)


@functools.lru_cache(maxsize=None)
def tile_for(h: int, w: int) -> Tile:
    return Tile(block=triton.next_power_of_2(max(h, w)))


def dwconv(x, weight, bias):
    x = x.contiguous()
    shape = Shape(*x.shape)
    tile = tile_for(shape.h, shape.w)
    config = LaunchConfig(block=tile.block, grid=(shape.n * shape.c,))
    assert Layout("nchw") is Layout.NCHW
    y = torch.empty_like(x)
    dwconv_kernel[config.grid](x, weight, bias, y, shape.c, shape.h, shape.w, K=weight.shape[-1], BLOCK=config.block)
    return y


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    @functools.wraps(nn.Module.forward)
    def forward(self, x):
        return dwconv(x, self.conv.weight, self.conv.bias)
