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


def run(request: dict[str, Any], reporter: Reporter, scratch: Path) -> None:
    from verifier.plan.compile import decode_constexprs
    from verifier.plan.execute import jit_kernel
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
            decode_constexprs(job["constexprs"]),
            job["options"],
            jit_kwargs=kernel.jit_kwargs,
            arch=arch,
        )
        described = build.to_dict()
        described["kernel"] = name
        described["summary"] = build.summary()
        reporter.send("build", {"key": job["key"], "build": described})
    reporter.send("done")
