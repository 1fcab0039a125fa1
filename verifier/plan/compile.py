"""Compiling every launched kernel for the GPU target before anything runs (the ``gpu_compile`` check).

The parent knows each launch's signature from a dry run of the checked plans on fake tensors
(:meth:`verifier.plan_run.PlanRun._dry_run`). :func:`compile_jobs` turns those launches into build
jobs keyed by content (:func:`verifier.plan.gpu_build.build_key`: the kernels' text, the signature,
the constexprs, the options, the target, Triton's version); :func:`run_compile_worker` builds the
jobs no earlier verification built, in a sandboxed worker of their own
(:mod:`verifier.worker.compile_role`): Triton's compiler must not run where ``TRITON_INTERPRET`` was
set when Triton was imported (a CPU runner's), and it runs no candidate Python (the kernels come
from the text, their bodies are Triton language only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from verifier import codec
from verifier.plan import values as pv
from verifier.plan.execute import Launch
from verifier.plan.gpu_build import build_key, triton_signature
from verifier.plan.kernel_source import KernelSource
from verifier.sandbox.isolation import Isolation
from verifier.sandbox.runner import WorkerSession
from verifier.spec import VerifyOptions


def _no_tensor(_vid: int) -> Any:
    raise pv.PlanError("a tensor where a constexpr is expected")


def compile_jobs(kernels: KernelSource, launches: list[Launch], arch: int) -> list[dict[str, Any]]:
    """One build job per distinct (kernel, signature, constexprs, options)."""
    jobs: dict[str, dict[str, Any]] = {}
    fingerprint = kernels.fingerprint()
    for launch in launches:
        kernel = kernels.kernels[launch.kernel]
        signature: dict[str, str] = {}
        constexprs: dict[str, Any] = {}
        for param in kernel.params:
            if param in launch.args:
                value = launch.args[param]
            elif param in kernel.defaults:
                value = kernel.defaults[param]
            else:
                raise pv.PlanError(f"`{launch.kernel}`: parameter {param!r} has no value")
            if param in kernel.constexpr_params or value is None:
                signature[param] = "constexpr"
                constexprs[param] = pv.encode(value, _no_tensor)
            elif isinstance(value, torch.Tensor):
                signature[param] = triton_signature(value.dtype)
            elif isinstance(value, (bool, int, float)):
                signature[param] = triton_signature(value)
            else:
                raise pv.PlanError(f"`{launch.kernel}`: parameter {param!r} gets a {type(value).__name__}")
        options = {k: int(v) for k, v in sorted(launch.options.items())}
        key = build_key(fingerprint, launch.kernel, signature, constexprs, options, arch, jit_kwargs=kernel.jit_kwargs)
        jobs.setdefault(
            key,
            {"key": key, "kernel": launch.kernel, "signature": signature, "constexprs": constexprs, "options": options},
        )
    return list(jobs.values())


COMPILE_TIMEOUT_S = 600.0
"""The compile worker's own limit (at least the run's per-process one): ptxas takes minutes over the
largest tiles on a loaded 2-core host, which says nothing about the candidate's correctness."""


def run_compile_worker(
    source: str, jobs: list[dict[str, Any]], arch: int, isolation: Isolation, options: VerifyOptions, device: str
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Build ``jobs`` in a compile worker: (build by job key, None) or ({}, why the worker failed)."""
    session = WorkerSession.for_run(
        "compile",
        isolation,
        dataclasses.replace(options, timeout_s=max(options.timeout_s, COMPILE_TIMEOUT_S)),
        device,
        authenticated=True,
        interpret=False,
        max_result_bytes=64 << 20,
    )
    builds: dict[str, dict[str, Any]] = {}
    with session:
        session.start({"source": source, "jobs": jobs, "arch": arch})
        while True:
            frame = session.receive({"build", "done", "error"})
            if frame is None or frame.kind != "build":
                break
            build = frame.header.get("build")
            key = frame.header.get("key")
            if isinstance(build, dict) and isinstance(key, str):
                builds[key] = build
        exit_info = session.close()
    if frame is not None and frame.kind == "done" and len(builds) == len(jobs):
        return builds, None
    if frame is not None and frame.kind == "error":
        return {}, f"the compile worker failed: {str(frame.header.get('error', ''))[:800]}"
    how = exit_info.describe(max(options.timeout_s, COMPILE_TIMEOUT_S), options.memory_limit_mb)
    done = f" after {len(builds)} of {len(jobs)} build(s)"
    return {}, f"compiling the kernels for sm_{arch} {how}{done}"


__all__ = ["codec", "compile_jobs", "run_compile_worker"]
