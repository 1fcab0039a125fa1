"""``kiln compile``: a model's kernel groups made tasks, generated and verified like a ``kiln bench`` run.

1. The shape: ``--shape`` constants, else the model's small tier (``shapes.small_tier``), or as written.
2. The capture, in a child process (``model_child``): the exported forward split into groups, each
   written as a KernelBench-format reference with its FLOPs and bytes.
3. Dedupe by group key (op structure, shapes, dtypes): each distinct group is a store task
   ``compiled.<ops>_<key>`` (family ``compiled``; the same group in two models is one task).
4. A bench run over those tasks (``service.bench.runner.BenchRunner``, tier ``as_written``: the group's
   own shapes): every candidate and verdict stored as it happens, progress on stderr, and
   resumable: running the same compile into the same ``--out`` continues its run.
   A group that already has an accepted kernel on this hardware (an earlier compile of a model
   sharing it, a job) is not verified again (``reuse_verified``).
5. ``compilation.json`` in ``--out``: per group occurrence its key, task, verdict, speedup (GPU only)
   or why it stayed in PyTorch; the coverage of the forward's FLOPs and bytes by verified kernels.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernels_store import Store
from kernels_store.records import built_from
from service.bench.executors import make_executor
from service.bench.runner import BenchConfig, BenchRunner
from service.bench.suite import SuiteTask
from service.compile.children import run_child
from service.compile.shapes import small_tier

FAMILY = "compiled"
COMPILATION = "compilation.json"
FORMAT = 1


@dataclass(frozen=True)
class CompileConfig:
    tier: str = "small"
    overrides: dict[str, Any] = field(default_factory=dict)
    proposer: str = "template"
    fallback: str | None = None
    """``llm``: the groups the templates leave without an accepted kernel go to the LLM proposer."""
    model: str | None = None
    """The LLM model (the ``llm`` proposer or fallback)."""
    budget: int = 4
    device: str = "cpu"
    timeout_s: float = 300.0
    trials: int = 3
    workers: int = 1
    executor: str = "local"
    sandbox: str | None = None
    """Run the model's capture sandboxed (``service.compile.children``): the service, for a submitted model."""


def task_id_for(summary: str, key: str) -> str:
    """``compiled.conv2d_batch_norm_relu_3f2a9c01b7de``: the group's ops and key."""
    slug = re.sub(r"[^a-z0-9]+", "_", summary.lower()).strip("_")[:48] or "group"
    return f"{FAMILY}.{slug}_{key[:12]}"


def model_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem) or "model"


def choose_overrides(source: str, config: CompileConfig) -> tuple[dict[str, Any], str]:
    """The shape's constants and a note saying where they come from."""
    if config.overrides:
        return dict(config.overrides), "--shape"
    if config.tier == "as_written":
        return {}, "as written"
    result = small_tier(source, timeout_s=config.timeout_s)
    changed = ", ".join(f"{k} {v[0]}->{v[1]}" for k, v in result.changed.items()) or "nothing changed"
    return dict(result.params), f"small tier ({changed})"


def capture_groups(
    source: str, overrides: dict[str, Any], timeout_s: float, sandbox: str | None = None
) -> dict[str, Any]:
    """The child's capture: ``{"groups": [...], "in_pytorch": [[node, reason], ...]}``."""
    request = {"action": "capture", "source": source, "overrides": overrides}
    return run_child(request, timeout_s=timeout_s, sandbox=sandbox)


def _store_tasks(store: Store, name: str, groups: list[dict[str, Any]]) -> list[str]:
    """One task per distinct group (in order of first occurrence); returns their ids."""
    ids: list[str] = []
    for group in groups:
        if group.get("skip_reason"):
            continue
        task_id = task_id_for(group["summary"], group["key"])
        group["task_id"] = task_id
        if task_id in ids:
            continue
        ids.append(task_id)
        existing = store.get_task(task_id)
        models = sorted({*(existing.extra.get("models", []) if existing else []), name})
        store.put_task(
            task_id,
            group["source"],
            family=FAMILY,
            title=f"{group['summary']} (kernel group of {', '.join(models)[:200]})",
            shapes=[{"name": "as_written", "tier": "as_written", "params": {}, "note": "the model's shapes"}],
            extra={"group_key": group["key"], "models": models, "flops": group.get("flops", 0)},
        )
    return ids


def _load_previous(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def compile_model(
    store: Store,
    model_path: Path,
    out_dir: Path,
    config: CompileConfig,
    host: dict[str, Any],
    *,
    listener: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
    verify_executor: Any = None,
    on_note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compile ``model_path`` into ``out_dir`` (see the module docstring); returns the compilation."""
    from verifier.spec import sha256_text

    note = on_note or (lambda _m: None)
    source = model_path.read_text(encoding="utf-8")
    name = model_name(model_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / COMPILATION
    previous = _load_previous(path)
    digest = sha256_text(source)
    resumable = (
        previous is not None
        and previous.get("model_sha256") == digest
        and previous.get("hardware_fingerprint") == host["hardware_fingerprint"]
        and (not config.overrides or previous.get("overrides") == config.overrides)
        and store.get_run(previous.get("run_id", "")) is not None
    )
    if resumable:
        assert previous is not None
        compilation = previous
        note(f"resuming compilation of {name} (run {compilation['run_id']})")
    else:
        overrides, shape_note = choose_overrides(source, config)
        note(f"shape: {shape_note}; capturing the forward")
        captured = capture_groups(source, overrides, config.timeout_s, config.sandbox)
        groups = captured["groups"]
        task_ids = _store_tasks(store, name, groups)
        compilation = {
            "format": FORMAT,
            "name": name,
            "model_path": str(model_path),
            "model_sha256": digest,
            "model_source": source,
            "overrides": overrides,
            "shape_note": shape_note,
            "proposer": config.proposer,
            **({"fallback": f"{config.fallback}:{config.model}"} if config.fallback else {}),
            "device": config.device,
            "device_name": str(host.get("device_name", config.device)),
            "hardware_fingerprint": host["hardware_fingerprint"],
            "groups": groups,
            "in_pytorch": captured["in_pytorch"],
            "task_ids": task_ids,
            "run_id": None,
        }
        if task_ids:
            bench = _bench_config(config)
            run = bench.create_run(
                store,
                task_ids,
                suite=f"compile:{name}",
                executor=config.executor,
                host=host,
                workers=config.workers,
                compile=name,
            )
            compilation["run_id"] = run.id
        _write(path, compilation)
    if compilation["run_id"]:
        _execute(store, compilation, config, listener, cancel, verify_executor)
    finish(store, compilation)
    _write(path, compilation)
    return compilation


def _bench_config(config: CompileConfig) -> BenchConfig:
    """The bench run's configuration: every field it shares with the compile's (proposer, fallback, model,
    budget, device, timeout_s, trials), on the groups' own shapes (tier ``as_written``)."""
    return built_from(BenchConfig, config, tier="as_written")


def _execute(
    store: Store,
    compilation: dict[str, Any],
    config: CompileConfig,
    listener: Callable[[dict[str, Any]], None] | None,
    cancel: threading.Event | None,
    verify_executor: Any,
) -> None:
    run = store.get_run(compilation["run_id"])
    assert run is not None
    if run.status == "completed":
        return
    reuse_verified(store, run.id, compilation["task_ids"], run.hardware_fingerprint)
    suite = []
    for task_id in compilation["task_ids"]:
        record = store.get_task(task_id)
        if record is not None:
            suite.append(SuiteTask(record))
    runner = BenchRunner(
        store,
        run,
        _bench_config(config),
        make_executor("local", config.workers),
        listener=listener,
        cancel=cancel,
        verify_executor=verify_executor,
    )
    runner.execute(suite)


def reuse_verified(store: Store, run_id: str, task_ids: list[str], hardware_fingerprint: str) -> list[str]:
    """Tasks of the run not yet done that already have an accepted kernel on this hardware (against
    their current source, from any earlier run or job) are done with it: a group shared by two models
    is verified once. Returns their ids."""
    pending = {t.task_id for t in store.run_tasks(run_id) if t.status != "done"}
    reused = []
    for task_id in task_ids:
        task = store.get_task(task_id)
        best = store.best_kernel(task_id, hardware_fingerprint) if task_id in pending else None
        if task is None or best is None or best.verification.reference_sha256 != task.source_sha256:
            continue
        store.note_run_verified(run_id, task_id, best.candidate.source_sha256, best.verification.id)
        store.update_run_task(
            run_id,
            task_id,
            status="done",
            verdict="accepted",
            reason=f"{best.candidate.name or 'candidate ' + str(best.candidate.id)} accepted earlier "
            f"(verification {best.verification.id}); not verified again",
            reference_ok=True,
            source_sha256=task.source_sha256,
            speedup_eager=best.speedup_eager,
            speedup_compiled=best.speedup_compiled,
            best_candidate_id=best.candidate.id,
        )
        reused.append(task_id)
    return reused


def finish(store: Store, compilation: dict[str, Any]) -> None:
    """Fill each group's verdict from the run, and the coverage figures."""
    rows = {r.task_id: r for r in store.run_tasks(compilation["run_id"])} if compilation["run_id"] else {}
    run = store.get_run(compilation["run_id"]) if compilation["run_id"] else None
    compilation["status"] = run.status if run is not None else "completed"
    for group in compilation["groups"]:
        row = rows.get(group.get("task_id", ""))
        if group.get("skip_reason"):
            group.update(verdict="in_pytorch", reason=group["skip_reason"])
        elif row is None or row.verdict is None:
            group.update(verdict="pending", reason="not verified yet (resume the compile)")
        else:
            group.update(
                verdict=row.verdict,
                reason=row.reason,
                speedup_eager=row.speedup_eager,
                speedup_compiled=row.speedup_compiled,
                candidate_id=row.best_candidate_id,
            )
            if row.verdict != "accepted":
                group["reason"] = f"stays in PyTorch: {row.reason}"
    compilation["coverage"] = coverage(compilation["groups"])


def coverage(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Groups, distinct groups, those with a verified kernel, and the share of FLOPs and bytes they cover."""
    verified = [g for g in groups if g.get("verdict") == "accepted"]
    flops = sum(g.get("flops", 0) for g in groups)
    nbytes = sum(g.get("bytes", 0) for g in groups)
    return {
        "groups": len(groups),
        "distinct": len({g["key"] for g in groups}),
        "verified": len(verified),
        "verified_distinct": len({g["key"] for g in verified}),
        "group_share": round(len(verified) / len(groups), 4) if groups else 0.0,
        "flops_share": round(sum(g.get("flops", 0) for g in verified) / flops, 4) if flops else None,
        "bytes_share": round(sum(g.get("bytes", 0) for g in verified) / nbytes, 4) if nbytes else None,
    }


def _write(path: Path, compilation: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(compilation, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_compilation(path: str | Path) -> dict[str, Any]:
    """A compilation from its directory or ``compilation.json`` (``ValueError`` when it is not one)."""
    p = Path(path)
    if p.is_dir():
        p = p / COMPILATION
    data = _load_previous(p)
    if data is None or data.get("format") != FORMAT or "groups" not in data:
        raise ValueError(f"{path}: not a kiln compilation (no readable {COMPILATION})")
    return data
