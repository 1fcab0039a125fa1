"""Test data for the web pages: stores seeded with tasks, accepted kernels and rejected cheats.

Every report built here is a TEST FIXTURE shaped like ``verifier.report.Report.to_dict()``, not the
output of a real verifier run: its sandbox says so, and its GPU timings are invented numbers. (No GPU
exists here; the browser test adds real CPU verifications through ``POST /v1/verify``.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

import tasks
from kernels_store import Store
from kernels_store.catalog import verification_columns
from kernels_store.models import Candidate, Verification
from tests.store import factories

FIXTURE_NOTE = "test fixture: hand-written report, not a real verifier run"
H100 = {**factories.H100, "hardware_fingerprint": "fixtureh100sxm01"}
A100 = {**H100, "device_name": "NVIDIA A100-SXM4-80GB", "hardware_fingerprint": "fixturea100sxm01"}
CPU = {
    **factories.CPU,
    "torch": "2.13.0+cpu",
    "device_name": "AMD EPYC (fixture)",
    "hardware_fingerprint": "fixturecpu000001",
}
CHECKS = ("type", "device", "dtype", "shape", "values", "inputs_unmodified", "no_aliasing", "no_fallback")
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kernel_source(tag: str) -> str:
    """A distinct, Triton-looking candidate source (with characters HTML must escape)."""
    return (
        "import torch\nimport triton\nimport triton.language as tl\n\n\n"
        f"@triton.jit\ndef kernel_{tag}(x_ptr, y_ptr, n, BLOCK: tl.constexpr):\n"
        "    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)\n"
        "    mask = offs < n  # keep <script>alert('x')</script> & friends as text\n"
        "    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)\n\n\n"
        "class ModelNew(torch.nn.Module):\n"
        f'    """Fixture kernel {tag}."""\n'
    )


def gpu_timing(speedup: float, *, env: dict[str, Any] = H100, shape: str = "stage1") -> dict[str, Any]:
    """An invented GPU timing (test fixture) with the given speedup over eager."""
    eager_ms = 0.2
    return {
        "device_name": env["device_name"],
        "candidate_ms": eager_ms / speedup,
        "eager_ms": eager_ms,
        "compiled_ms": 0.16,
        "speedup_eager": speedup,
        "speedup_compiled": 0.16 / (eager_ms / speedup),
        "runs": 100,
        "warmup_runs": 10,
        "method": "cuda_events (fixture)",
        "shape": shape,
        "compile_error": None,
        "wall_ms_per_call": None,
    }


def fixture_report(
    reference_source: str,
    candidate_source: str,
    *,
    env: dict[str, Any],
    timing: dict[str, Any] | None = None,
    reasons: list[str] | None = None,
    shapes: list[str] | None = None,
) -> dict[str, Any]:
    """A Report dict (test fixture): accepted when ``reasons`` is empty, else rejected on the named check."""
    failed = {r.split(":", 1)[0] for r in reasons or []}
    checks = [
        {"name": name, "passed": name not in failed, "detail": f"{FIXTURE_NOTE} [{name}]"}
        for name in (*CHECKS, *sorted(failed - set(CHECKS)))
    ]
    return {
        "verdict": "rejected" if reasons else "accepted",
        "reasons": list(reasons or []),
        "checks": checks,
        "timing": timing,
        "device": f"{env['device_kind']} ({env['device_name']})",
        "language": "triton",
        "sandbox": {"mechanism": "none", "notes": [FIXTURE_NOTE]},
        "seeds": [11, 22, 33],
        "shapes": shapes if shapes is not None else (["stage1", "stage2"] if timing else ["tiny", "odd"]),
        "environment": dict(env),
        "reference_sha256": sha256_text(reference_source),
        "candidate_sha256": sha256_text(candidate_source),
        "reference_name": "fixture",
        "candidate_name": "fixture",
        "duration_s": 2.5,
        "logs": {"stdout": "", "stderr": ""},
    }


class Seeder:
    """Adds candidates with fixture verdicts to a store through the store API, one clock tick apart."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.count = 0
        self.registered: set[str] = set()

    def task(self, task_id: str) -> tasks.Task:
        task = tasks.get(task_id)
        if task_id not in self.registered:
            self.store.put_task(task.id, task.source, family=task.family, title=task.title)
            self.registered.add(task_id)
        return task

    def kernel(
        self,
        task_id: str,
        *,
        origin: str = "llm",
        detail: str = "fixture-model-a",
        env: dict[str, Any] = H100,
        speedup: float | None = None,
        reasons: list[str] | None = None,
        shape: str = "stage1",
        shapes: list[str] | None = None,
    ) -> int:
        """One candidate and its verification; returns the candidate id."""
        task = self.task(task_id)
        self.count += 1
        source = kernel_source(f"{task_id.replace('.', '_')}_{self.count}")
        cand = self.store.add_candidate(
            task_id, source, language="triton", origin=origin, origin_detail=detail, name=f"fixture {self.count}"
        ).candidate
        timing = gpu_timing(speedup, env=env, shape=shape) if speedup is not None else None
        report = fixture_report(task.source, source, env=env, timing=timing, reasons=reasons, shapes=shapes)
        self.store.record_verification(cand.id, report)
        return cand.id


@dataclass(frozen=True)
class BulkCounts:
    accepted_timed: int
    accepted_cpu: int
    rejected: int


def bulk_seed(
    store: Store,
    task_id: str,
    *,
    accepted_timed: int,
    accepted_cpu: int,
    rejected: int,
    source: Callable[[str], str] = kernel_source,
) -> BulkCounts:
    """Insert many candidates and verifications at once (SQLAlchemy bulk insert; columns derived by the store's
    own ``verification_columns``). Origins rotate over two LLM models, the template compiler and users.
    ``source(tag)`` writes each candidate's (distinct) source."""
    task = tasks.get(task_id)
    store.put_task(task.id, task.source, family=task.family, title=task.title)
    realistic = task.shape_names("realistic")
    origins = [("llm", "fixture-model-a"), ("llm", "fixture-model-b"), ("template", "dw_direct"), ("user", "")]
    plan = (
        [("timed", i) for i in range(accepted_timed)]
        + [("cpu", i) for i in range(accepted_cpu)]
        + [("rejected", i) for i in range(rejected)]
    )
    candidates, verifications = [], []
    with store.write() as session:
        first_id = (session.query(Candidate.id).order_by(Candidate.id.desc()).limit(1).scalar() or 0) + 1
        for n, (kind, i) in enumerate(plan):
            text = source(f"bulk_{kind}_{i}")
            created = START + timedelta(minutes=n)
            origin, detail = origins[n % len(origins)]
            env = CPU if kind == "cpu" else H100
            timing = gpu_timing(0.5 + (i % 40) / 10, env=env, shape=realistic[0]) if kind == "timed" else None
            reasons = [f"values: fixture mismatch {i}"] if kind == "rejected" else None
            shapes = realistic if kind == "timed" else None
            report = fixture_report(task.source, text, env=env, timing=timing, reasons=reasons, shapes=shapes)
            candidates.append(
                {
                    "id": first_id + n,
                    "task_id": task_id,
                    "source": text,
                    "source_sha256": sha256_text(text),
                    "language": "triton",
                    "origin": origin,
                    "origin_detail": detail,
                    "name": f"bulk {n}",
                    "extra": {},
                    "created_at": created,
                }
            )
            columns = verification_columns(report, sha256_text(task.source))
            verifications.append({"candidate_id": first_id + n, "task_id": task_id, "created_at": created, **columns})
        session.execute(insert(Candidate), candidates)
        session.execute(insert(Verification), verifications)
    return BulkCounts(accepted_timed, accepted_cpu, rejected)


CHEATS = (
    "no_fallback: trial 1, call 1: forward ran framework compute op(s) aten.conv2d, aten.convolution (fixture)",
    "sandbox: blocked socket connect to 127.0.0.1:8080 (fixture)",
    "values: max |diff| 3.2 > atol=1e-4 on 112 of 150528 elements (fixture)",
    "inputs_unmodified: input 0 changed after call 2 <b>not bold</b> (fixture)",
)


@dataclass(frozen=True)
class Showcase:
    """What ``seed_showcase`` put in the store."""

    busy_task: str
    busy_accepted_timed: int
    busy_accepted_cpu: int
    busy_rejected: int
    best_speedup: float
    cpu_only_task: str
    a100_task: str
    unnamed_shape_task: str


def seed_showcase(store: Store) -> Showcase:
    """A small store for the page and browser tests: timed and CPU-only kernels, cheats, several hardware."""
    seeder = Seeder(store)
    busy = "dwconv2d.convnext_7x7"
    speedups = [1.4, 0.8, 1.9, 2.3, 1.1, 1.6, 0.95, 1.25, 2.05, 1.7, 1.3, 1.05]
    generators = [("llm", "fixture-model-a"), ("llm", "fixture-model-b"), ("template", "dw_direct")]
    for n, speed in enumerate(speedups):
        origin, detail = generators[n % len(generators)]
        seeder.kernel(busy, origin=origin, detail=detail, speedup=speed)
    seeder.kernel(busy, origin="user", detail="", env=CPU)
    for n in range(30):
        seeder.kernel(busy, origin="llm", detail="fixture-model-b", reasons=[CHEATS[n % len(CHEATS)]])
    seeder.kernel("general.softmax", origin="template", detail="softmax_rows", env=CPU)
    seeder.kernel("general.matmul", origin="llm", detail="fixture-model-a", env=A100, speedup=1.7)
    seeder.kernel("fftconv.long_conv", speedup=1.2, shape="", shapes=["lra_4k", "hyenadna_32k"])
    return Showcase(
        busy_task=busy,
        busy_accepted_timed=len(speedups),
        busy_accepted_cpu=1,
        busy_rejected=30,
        best_speedup=max(speedups),
        cpu_only_task="general.softmax",
        a100_task="general.matmul",
        unnamed_shape_task="fftconv.long_conv",
    )
