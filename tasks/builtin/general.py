"""A small general set for breadth: matmul, softmax, layer norm, linear + GELU (family ``general``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.build import define_task, dtype_bytes
from tasks.model import Shape, Task, Tier
from verifier.spec import Tolerance


def _s(name: str, tier: Tier, note: str, **params: Any) -> Shape:
    params.setdefault("DTYPE", "float32")
    return Shape(name, params, tier, note)


def _matmul() -> Task:
    def flops(p: Mapping[str, Any]) -> float:
        return 2.0 * p["M"] * p["N"] * p["K"]

    def min_bytes(p: Mapping[str, Any]) -> float:
        return dtype_bytes(p["DTYPE"]) * (p["M"] * p["K"] + p["K"] * p["N"] + p["M"] * p["N"])

    return define_task(
        id="general.matmul",
        title="Dense matrix multiplication",
        description="""
        C = A @ B for A (M, K) and B (K, N). Realistic shapes: square 4096 (float32, TF32 on tensor
        cores), square 8192 in bf16 (the size this workplace measured its H100's matmul peak at),
        a LLaMA-7B MLP up-projection (4096 tokens, 4096 -> 11008) and GPT-2-small's fused QKV
        projection (8 x 1024 tokens, 768 -> 2304).
        """,
        shapes=[
            _s("tiny", "small", "as written", M=64, N=64, K=64),
            _s("odd", "small", "sizes that are not multiples of a tile", M=48, N=80, K=40),
            _s("tiny_bf16", "small", "bfloat16", M=64, N=32, K=48, DTYPE="bfloat16"),
            _s("square_4096", "realistic", "4096^3, float32", M=4096, N=4096, K=4096),
            _s("square_8192_bf16", "realistic", "8192^3, bf16", M=8192, N=8192, K=8192, DTYPE="bfloat16"),
            _s(
                "llama7b_mlp_up_bf16",
                "realistic",
                "LLaMA-7B MLP up-projection, 4096 tokens",
                M=4096,
                N=11008,
                K=4096,
                DTYPE="bfloat16",
            ),
            _s(
                "gpt2_qkv_fp16",
                "realistic",
                "GPT-2 small QKV projection, 8 x 1024 tokens",
                M=8192,
                N=2304,
                K=768,
                DTYPE="float16",
            ),
        ],
        flops=flops,
        min_bytes=min_bytes,
        tensor_flops=flops,
        flops_note="2 M N K, all on tensor cores (TF32 for float32 operands).",
        references=("KernelBench level 1 (Ouyang et al., 2025)",),
    )


def _softmax() -> Task:
    def flops(p: Mapping[str, Any]) -> float:
        return 5.0 * p["ROWS"] * p["COLS"]

    def min_bytes(p: Mapping[str, Any]) -> float:
        return dtype_bytes(p["DTYPE"]) * 2 * p["ROWS"] * p["COLS"]

    return define_task(
        id="general.softmax",
        title="Row softmax",
        description="""
        y = softmax(x, dim=-1) over rows of x (ROWS, COLS). Realistic shapes: GPT-2-small attention
        probabilities (8 x 12 heads x 1024 queries over 1024 keys), GPT-2 vocabulary logits
        (8 x 1024 tokens over 50257) and LLaMA vocabulary logits (4096 tokens over 32000).
        """,
        shapes=[
            _s("tiny", "small", "as written", ROWS=64, COLS=256),
            _s("odd", "small", "row length not a power of two", ROWS=37, COLS=1000),
            _s("tiny_bf16", "small", "bfloat16", ROWS=16, COLS=512, DTYPE="bfloat16"),
            _s("gpt2_attention", "realistic", "GPT-2 small attention scores", ROWS=98304, COLS=1024),
            _s("gpt2_vocab_bf16", "realistic", "GPT-2 logits, bf16", ROWS=8192, COLS=50257, DTYPE="bfloat16"),
            _s("llama_vocab", "realistic", "LLaMA logits, float32", ROWS=4096, COLS=32000),
        ],
        flops=flops,
        min_bytes=min_bytes,
        flops_note="5 per element (max, subtract, exp, sum, divide; exp counted as one).",
        tolerances={
            # Probabilities are small (1/COLS): the default atol of 1e-2 would say nothing.
            "float32": Tolerance(atol=1e-6, rtol=1e-4, max_rel_l2=1e-4),
            "float16": Tolerance(atol=1e-5, rtol=1e-2, max_rel_l2=3e-3),
            "bfloat16": Tolerance(atol=1e-5, rtol=2e-2, max_rel_l2=1e-2),
        },
        references=("KernelBench level 1 (Ouyang et al., 2025)",),
    )


def _layernorm() -> Task:
    def flops(p: Mapping[str, Any]) -> float:
        return 8.0 * p["ROWS"] * p["HIDDEN"]

    def min_bytes(p: Mapping[str, Any]) -> float:
        return dtype_bytes(p["DTYPE"]) * (2 * p["ROWS"] * p["HIDDEN"] + 2 * p["HIDDEN"])

    return define_task(
        id="general.layernorm",
        title="Layer normalisation with learned scale and shift",
        description="""
        y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension (eps 1e-5).
        Realistic shapes: GPT-2 small (8 x 1024 tokens, 768), BERT-large (32 x 512 tokens, 1024,
        fp16) and a LLaMA-7B-width activation (16384 tokens, 4096, bf16).
        """,
        shapes=[
            _s("tiny", "small", "as written", ROWS=64, HIDDEN=256, EPS=1e-5),
            _s("odd", "small", "hidden not a power of two", ROWS=33, HIDDEN=700, EPS=1e-5),
            _s("tiny_bf16", "small", "bfloat16", ROWS=16, HIDDEN=512, EPS=1e-5, DTYPE="bfloat16"),
            _s("gpt2", "realistic", "GPT-2 small", ROWS=8192, HIDDEN=768, EPS=1e-5),
            _s("bert_large_fp16", "realistic", "BERT-large", ROWS=16384, HIDDEN=1024, EPS=1e-5, DTYPE="float16"),
            _s("llama7b_bf16", "realistic", "LLaMA-7B width", ROWS=16384, HIDDEN=4096, EPS=1e-5, DTYPE="bfloat16"),
        ],
        flops=flops,
        min_bytes=min_bytes,
        flops_note="8 per element (mean, variance, normalise, scale and shift).",
        tolerances={"float32": Tolerance(atol=1e-4, rtol=1e-4, max_rel_l2=1e-5)},
        references=("Ba et al., Layer Normalization, 2016",),
    )


def _linear_gelu() -> Task:
    def tensor_flops(p: Mapping[str, Any]) -> float:
        return 2.0 * p["TOKENS"] * p["IN_FEATURES"] * p["OUT_FEATURES"]

    def flops(p: Mapping[str, Any]) -> float:
        return tensor_flops(p) + 9.0 * p["TOKENS"] * p["OUT_FEATURES"]

    def min_bytes(p: Mapping[str, Any]) -> float:
        t, i, o = p["TOKENS"], p["IN_FEATURES"], p["OUT_FEATURES"]
        return dtype_bytes(p["DTYPE"]) * (t * i + i * o + o + t * o)

    return define_task(
        id="general.linear_gelu",
        title="Linear layer fused with GELU",
        description="""
        y = gelu(x @ W^T + b) with the exact (erf) GELU: a transformer MLP's up-projection, where
        fusing the activation into the matmul epilogue saves a round trip of the (T, 4d) output.
        Realistic shapes: GPT-2 small (8 x 1024 tokens, 768 -> 3072), BERT-large (32 x 512 tokens,
        1024 -> 4096, bf16), GPT-2 XL (4096 tokens, 1600 -> 6400, fp16).
        """,
        shapes=[
            _s("tiny", "small", "as written", TOKENS=64, IN_FEATURES=64, OUT_FEATURES=128),
            _s("odd", "small", "sizes that are not multiples of a tile", TOKENS=50, IN_FEATURES=72, OUT_FEATURES=100),
            _s("tiny_bf16", "small", "bfloat16", TOKENS=32, IN_FEATURES=64, OUT_FEATURES=96, DTYPE="bfloat16"),
            _s("gpt2", "realistic", "GPT-2 small MLP up-projection", TOKENS=8192, IN_FEATURES=768, OUT_FEATURES=3072),
            _s(
                "bert_large_bf16",
                "realistic",
                "BERT-large MLP up-projection",
                TOKENS=16384,
                IN_FEATURES=1024,
                OUT_FEATURES=4096,
                DTYPE="bfloat16",
            ),
            _s(
                "gpt2_xl_fp16",
                "realistic",
                "GPT-2 XL MLP up-projection",
                TOKENS=4096,
                IN_FEATURES=1600,
                OUT_FEATURES=6400,
                DTYPE="float16",
            ),
        ],
        flops=flops,
        min_bytes=min_bytes,
        tensor_flops=tensor_flops,
        flops_note="2 T F_in F_out on tensor cores; bias add and GELU counted as 9 FLOPs per output.",
        references=("Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs), 2016",),
    )


def tasks() -> list[Task]:
    return [_matmul(), _softmax(), _layernorm(), _linear_gelu()]
