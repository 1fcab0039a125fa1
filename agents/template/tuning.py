"""Tuning profiles: block sizes, warps and stages per kernel kind, explored as separate candidates.

On a GPU every profile is verified and timed, and ranking keeps the fastest (``agents.ranking``).
On a CPU (Triton interpreter) nothing is timed, so one profile is verified: the interpreter runs
numpy per program, so large tiles (few programs) keep verification fast. Block sizes are caps: at
run time each is the next power of two of the extent it tiles, clamped to the cap.

1D convolutions (``dwconv1d``) also carry the FFT path's settings (``templates/fft.py``): the forward
takes the FFT path for kernels of at least ``fft_min_taps`` taps; rows whose transform fits
``fft_fused`` (by default ``fft_block``; at most 4,096) take the fused kernel
(``templates/fft_fused.py``: whole rows a program, two batch rows packed a transform), longer ones
passes of ``fft_block`` elements a program, up to ``fft_stages`` butterfly stages a launch (1: a launch
per stage), ``fft_warps``. The GPU profiles differ in these too, so ranking measures where the FFT pays
off: ``wide_rows`` keeps the direct sum up to 1023 taps; ``small_tiles``, the default, fuses transforms
up to 4,096 (L up to 2,048) and runs 11 stages a launch beyond, 2,048 values a program on 16 warps (4 a
thread: the sm_90 builds of an 8,192-long transform's launches spill at none; at 4 and 8 warps some did).

SpMM's ``block_e`` is the edges a chunk at the profile's ``block_f``: a narrower feature block takes
proportionally more (``templates/sparse.py``), so every width gathers ``block_e x block_f`` values a chunk;
the GPU profiles keep that at 2,048-4,096 (no spill in their sm_90 builds at widths 16-128).
"""

from __future__ import annotations

from typing import Any

Profile = dict[str, dict[str, Any]]

CPU_PROFILES: dict[str, Profile] = {
    "cpu": {
        "dwconv2d": {"block_h": 128, "block_w": 128, "taps": "vector", "block_kw": 8},  # tile <= 128x128x8
        "dwconv1d": {
            "block_t": 256,
            "block_j": 128,
            "fft_min_taps": 128,
            "fft_block": 4096,
            "fft_stages": 12,
            "fft_warps": 4,
        },
        "pwconv": {"block_o": 64, "block_p": 256, "block_c": 64},
        "conv": {"block_o": 128, "block_p": 1024, "block_c": 64},
        "matmul": {"block_m": 128, "block_n": 128, "block_k": 64},
        "spmm": {"block_m": 32, "block_e": 16, "block_f": 128},
        "ewise": {"block": 4096},
        "pool": {"block": 1024},  # the verifier builds this variant for sm_90 too: at 4096 that took > 8 GiB
    },
}

GPU_PROFILES: dict[str, Profile] = {
    "small_tiles": {
        "dwconv2d": {"block_h": 8, "block_w": 32, "taps": "strip", "num_warps": 2},
        "dwconv1d": {
            "block_t": 64,
            "block_j": 64,
            "num_warps": 2,
            "fft_min_taps": 128,
            "fft_block": 2048,
            "fft_stages": 11,
            "fft_warps": 16,
            "fft_fused": 4096,
        },
        "pwconv": {"block_o": 32, "block_p": 64, "block_c": 32, "num_warps": 4},
        "matmul": {"block_m": 64, "block_n": 64, "block_k": 32, "num_warps": 4, "num_stages": 3},
        "spmm": {"block_m": 32, "block_e": 32, "block_f": 64, "num_warps": 8},
        "ewise": {"block": 1024, "num_warps": 4},
        "rows": {"num_warps": 4, "row_elements": 4096},
        "pool": {"block": 256, "num_warps": 4},
    },
    "medium_tiles": {
        "dwconv2d": {"block_h": 16, "block_w": 32, "taps": "strip", "num_warps": 4},
        "dwconv1d": {
            "block_t": 128,
            "block_j": 64,
            "num_warps": 4,
            "fft_min_taps": 128,
            "fft_block": 2048,
            "fft_stages": 11,
            "fft_warps": 16,
        },
        "pwconv": {"block_o": 64, "block_p": 64, "block_c": 32, "num_warps": 4},
        "matmul": {"block_m": 128, "block_n": 64, "block_k": 32, "num_warps": 4, "num_stages": 4},
        "spmm": {"block_m": 32, "block_e": 64, "block_f": 64, "num_warps": 8},
        "ewise": {"block": 2048, "num_warps": 8},
        "rows": {"num_warps": 8, "row_elements": 8192},
        "pool": {"block": 512, "num_warps": 4},
    },
    "large_tiles": {
        "dwconv2d": {"block_h": 8, "block_w": 32, "taps": "vector", "block_kw": 16, "num_warps": 4},
        "dwconv1d": {
            "block_t": 256,
            "block_j": 64,
            "num_warps": 8,
            "fft_min_taps": 256,
            "fft_block": 4096,
            "fft_stages": 12,
            "fft_warps": 8,
        },
        "pwconv": {"block_o": 64, "block_p": 128, "block_c": 32, "num_warps": 8},
        "matmul": {"block_m": 128, "block_n": 128, "block_k": 32, "num_warps": 8, "num_stages": 3},
        "spmm": {"block_m": 64, "block_e": 64, "block_f": 64, "num_warps": 8},
        "ewise": {"block": 4096, "num_warps": 8},
        "rows": {"num_warps": 16, "row_elements": 16384},
        "pool": {"block": 1024, "num_warps": 8},
    },
    "wide_rows": {
        "dwconv2d": {"block_h": 4, "block_w": 64, "taps": "vector", "block_kw": 8, "num_warps": 4},
        "dwconv1d": {
            "block_t": 128,
            "block_j": 128,
            "num_warps": 4,
            "fft_min_taps": 1024,
            "fft_block": 8192,
            "fft_stages": 13,
            "fft_warps": 16,
        },
        "pwconv": {"block_o": 32, "block_p": 128, "block_c": 64, "num_warps": 4},
        "matmul": {"block_m": 64, "block_n": 128, "block_k": 64, "num_warps": 4, "num_stages": 3},
        "spmm": {"block_m": 16, "block_e": 16, "block_f": 128, "num_warps": 4},
        "ewise": {"block": 1024, "num_warps": 4},
        "rows": {"num_warps": 4, "row_elements": 4096},
        "pool": {"block": 256, "num_warps": 2},
    },
}


def profiles_for(device: str) -> dict[str, Profile]:
    """The profiles to explore on ``device`` ("cuda" or "cpu"), most promising first."""
    return GPU_PROFILES if device == "cuda" else CPU_PROFILES
