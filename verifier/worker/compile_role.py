"""Compile worker: builds a candidate's kernels for the GPU target, from the file's text.

It runs where ``TRITON_INTERPRET`` is unset (Triton's compiler needs Triton's language as compiled,
not as interpreted), imports no candidate code (the kernels are built from the checked source by
:mod:`verifier.plan.kernel_source`), and holds no data. For each job it reports the build's result
and what the cubin says (:mod:`verifier.plan.gpu_build`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.worker.protocol import Reporter

MAX_DEPTH = 16


def decode_literal(value: Any, depth: int = 0) -> Any:
    """A constexpr as the parent encoded it (the plan's value grammar, tensors excluded), without torch:
    this worker imports only Triton."""
    if depth > MAX_DEPTH:
        raise ValueError("a constexpr nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("l", "t") and isinstance(body, list):
            items = [decode_literal(v, depth + 1) for v in body]
            return items if tag == "l" else tuple(items)
        if tag == "tl" and isinstance(body, str):
            import triton.language as tl

            table = {
                v.name: v
                for v in vars(tl).values()
                if isinstance(v, tl.dtype) and not isinstance(v, (tl.pointer_type, tl.block_type))
            }
            if body in table:
                return table[body]
    raise ValueError(f"a constexpr the compile worker cannot read: {str(value)[:80]}")


def jit_kernel(fn: Any, kernel: Any) -> Any:
    from triton.runtime.jit import JITFunction

    return JITFunction(fn, **kernel.jit_kwargs)


def run(request: dict[str, Any], reporter: Reporter, scratch: Path) -> None:
    from verifier.plan.gpu_build import compile_for_gpu
    from verifier.plan.kernel_source import build_namespace, extract

    kernels = extract(request["source"])
    namespace = build_namespace(kernels, jit_kernel)
    arch = int(request["arch"])
    for job in request["jobs"]:
        name = str(job["kernel"])
        kernel = kernels.kernels[name]
        build = compile_for_gpu(
            namespace[name],
            name,
            job["signature"],
            {str(k): decode_literal(v) for k, v in job["constexprs"].items()},
            job["options"],
            jit_kwargs=kernel.jit_kwargs,
            arch=arch,
        )
        described = build.to_dict()
        described["kernel"] = name
        described["summary"] = build.summary()
        reporter.send("build", {"key": job["key"], "build": described})
    reporter.send("done")
