"""Test data: reference and candidate sources, environments, and verifier reports as dicts."""

from __future__ import annotations

from typing import Any

from kernels_store import Store
from kernels_store.catalog import sha256_text

REFERENCE = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"
REFERENCE_V2 = REFERENCE + "# tolerance tweak\n"

H100 = {
    "python": "3.11.7",
    "torch": "2.11.0",
    "triton": "3.6.0",
    "cuda": "12.8",
    "device_kind": "cuda",
    "device_name": "NVIDIA H100 80GB HBM3",
    "hardware_fingerprint": "h100fingerprint0",
}
H100_NEWER_TORCH = {**H100, "torch": "2.12.0"}
A100 = {**H100, "device_name": "NVIDIA A100-SXM4-80GB", "hardware_fingerprint": "a100fingerprint0"}
CPU = {
    "python": "3.11.7",
    "torch": "2.13.0",
    "triton": "3.9.0",
    "cuda": None,
    "device_kind": "cpu",
    "device_name": "AMD EPYC 7763",
    "hardware_fingerprint": "cpufingerprint00",
}


def kernel(n: int, tag: str = "") -> str:
    """A distinct candidate source per (n, tag)."""
    return f"import triton\n# candidate {tag}{n}\nclass ModelNew:\n    pass\n"


def report(
    candidate_source: str,
    *,
    reference_source: str = REFERENCE,
    verdict: str = "accepted",
    environment: dict[str, Any] | None = None,
    speedup: float | None = None,
    reasons: list[str] | None = None,
) -> dict[str, Any]:
    """A dict shaped like ``verifier.report.Report.to_dict()``; timed when ``speedup`` is given."""
    env = dict(environment or H100)
    timing = None
    if speedup is not None:
        timing = {
            "device_name": env["device_name"],
            "candidate_ms": round(1.0 / speedup, 6),
            "eager_ms": 1.0,
            "compiled_ms": 0.8,
            "speedup_eager": speedup,
            "speedup_compiled": round(speedup * 0.8, 6),
            "runs": 100,
            "warmup_runs": 10,
            "method": "cuda_events",
            "shape": "small",
            "compile_error": None,
            "wall_ms_per_call": None,
        }
    checks = [{"name": "output_close", "passed": verdict == "accepted", "detail": "max abs err 1e-7"}]
    return {
        "verdict": verdict,
        "reasons": reasons if reasons is not None else ([] if verdict == "accepted" else ["output mismatch"]),
        "checks": checks,
        "timing": timing,
        "device": env["device_kind"],
        "language": "triton",
        "sandbox": {"kind": "bwrap"},
        "seeds": [1, 2, 3],
        "shapes": ["small"],
        "environment": env,
        "reference_sha256": sha256_text(reference_source),
        "candidate_sha256": sha256_text(candidate_source),
        "reference_name": "ref",
        "candidate_name": "cand",
        "duration_s": 1.5,
        "logs": {"stdout": "", "stderr": ""},
    }


def verified(
    store: Store, task_id: str, n: int, *, origin: str = "llm", detail: str = "m", **report_kwargs: Any
) -> int:
    """Candidate ``kernel(n, task_id)`` of ``task_id`` with a verification (``report``'s keywords); its id."""
    source = kernel(n, task_id)
    cand = store.add_candidate(task_id, source, language="triton", origin=origin, origin_detail=detail).candidate
    reference = report_kwargs.pop("reference_source", REFERENCE)
    store.record_verification(cand.id, report(source, reference_source=reference, **report_kwargs))
    return cand.id
