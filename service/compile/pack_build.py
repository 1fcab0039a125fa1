"""``kiln pack build``: a compilation's verified kernels as a directory (or wheel) with a manifest.

Layout: ``manifest.json``; ``kernels/<name>.py`` (the accepted candidate, byte for byte as verified);
``groups/<name>.py`` (the group's reference: the task source it was verified against, also the
runtime's eager fallback); ``model.py`` (the compiled model, for the end-to-end check and ``kiln
regress --pack``); ``check.json`` (that check). Each manifest kernel lists its group key, task id and
task source sha256, its inputs' kinds, shapes and dtypes, the device and hardware it was verified
on, the sha256 of its stored report, its speedups (GPU only), when, and the versions that verified
it; the manifest's head names the model, its shape, the Kiln version and git commit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kernels_store import Store
from service.compile.children import ROOT, ChildError, run_child

MANIFEST_FORMAT = 1
PACK_KEY = "pack"
"""Key of a compile run's summary that holds its pack's manifest (``record_pack``; the pack pages)."""


class PackBuildError(ValueError):
    """Nothing to pack, or the store lacks what the compilation names."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def report_digest(report: dict[str, Any]) -> str:
    """sha256 of the stored report as canonical JSON."""
    return _sha256(json.dumps(report, sort_keys=True, separators=(",", ":"), default=str))


def git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _kernel_entry(store: Store, compilation: dict[str, Any], group: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """The manifest entry, the kernel source and the group source of one accepted group."""
    task_id = group["task_id"]
    candidate = store.get_candidate(int(group["candidate_id"]))
    task = store.get_task(task_id)
    if candidate is None or task is None:
        raise PackBuildError(f"{task_id}: the store has no candidate {group['candidate_id']} or task")
    row = next((r for r in store.run_tasks(compilation["run_id"]) if r.task_id == task_id), None)
    ver_id = row.verified.get(candidate.source_sha256) if row is not None else None
    verification = store.get_verification(int(ver_id)) if ver_id is not None else None
    if verification is None or verification.verdict != "accepted":
        raise PackBuildError(f"{task_id}: no accepted verification of candidate {candidate.id} in the run")
    if verification.reference_sha256 and verification.reference_sha256 != task.source_sha256:
        raise PackBuildError(f"{task_id}: the task's source changed since its kernel was verified")
    name = task_id.split(".", 1)[1]
    entry = {
        "name": name,
        "key": group["key"],
        "summary": group["summary"],
        "task_id": task_id,
        "task_source_sha256": task.source_sha256,
        "kernel_file": f"kernels/{name}.py",
        "kernel_sha256": _sha256(candidate.source),
        "group_file": f"groups/{name}.py",
        "group_sha256": _sha256(task.source),
        "candidate_id": candidate.id,
        "candidate_name": candidate.name,
        "inputs": group["inputs"],
        "output": group["output"],
        "device": "cuda" if compilation["device"] == "cuda" else "cpu",
        "device_label": verification.device,
        "device_name": verification.device_name,
        "hardware_fingerprint": verification.hardware_fingerprint,
        "verification_id": verification.id,
        "report_digest": report_digest(verification.report),
        "verdict": verification.verdict,
        "speedup_eager": verification.speedup_eager,
        "speedup_compiled": verification.speedup_compiled,
        "verified_at": verification.created_at.isoformat(),
        "versions": {
            "python": verification.python_version,
            "torch": verification.torch_version,
            "triton": verification.triton_version,
            "cuda": verification.cuda_version,
            "kiln": verification.verifier_version,
        },
        "occurrences": sum(1 for g in compilation["groups"] if g["key"] == group["key"]),
        "flops": group.get("flops", 0),
    }
    return entry, candidate.source, task.source


def build_pack(store: Store, compilation: dict[str, Any], out_dir: Path, *, check: bool = True) -> dict[str, Any]:
    """Write the pack into ``out_dir`` and return its manifest (``check`` runs the end-to-end check)."""
    from kernels_store.provenance import verifier_version

    accepted: dict[str, dict[str, Any]] = {}
    for group in compilation["groups"]:
        if group.get("verdict") == "accepted" and group["key"] not in accepted:
            accepted[group["key"]] = group
    if not accepted:
        raise PackBuildError(f"{compilation['name']}: no group has a verified kernel; nothing to pack")
    if out_dir.exists():
        for sub in ("kernels", "groups"):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
    (out_dir / "kernels").mkdir(parents=True, exist_ok=True)
    (out_dir / "groups").mkdir(parents=True, exist_ok=True)
    kernels = []
    for group in accepted.values():
        entry, kernel_source, group_source = _kernel_entry(store, compilation, group)
        (out_dir / entry["kernel_file"]).write_text(kernel_source, encoding="utf-8")
        (out_dir / entry["group_file"]).write_text(group_source, encoding="utf-8")
        kernels.append(entry)
    (out_dir / "model.py").write_text(compilation["model_source"], encoding="utf-8")
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "name": compilation["name"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "file": "model.py",
            "sha256": compilation["model_sha256"],
            "overrides": compilation["overrides"],
            "shape_note": compilation["shape_note"],
        },
        "compilation": {"run_id": compilation["run_id"], "proposer": compilation["proposer"]},
        "kiln": {"version": verifier_version(), "commit": git_commit()},
        "kernels": kernels,
        "groups": [
            {k: g.get(k) for k in ("key", "summary", "node", "verdict", "reason", "flops", "bytes")}
            for g in compilation["groups"]
        ],
        "coverage": compilation["coverage"],
        "check": None,
    }
    _write_manifest(out_dir, manifest)
    if check:
        manifest["check"] = end_to_end_check(out_dir, manifest)
        _write_manifest(out_dir, manifest)
    record_pack(store, compilation["run_id"], manifest)
    return manifest


def record_pack(store: Store, run_id: str, manifest: dict[str, Any]) -> None:
    """Keep the manifest in the compile run's summary (key ``pack``): the web pages show it at
    ``/packs/{run_id}``."""
    run = store.get_run(run_id)
    if run is not None:
        store.set_run_status(run_id, run.status, summary={**(run.summary or {}), PACK_KEY: manifest})


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def end_to_end_check(
    pack_dir: Path, manifest: dict[str, Any], calls: int = 2, timeout_s: float = 1200.0
) -> dict[str, Any]:
    """Patched model vs eager on fresh inputs (child process); written to ``check.json`` too."""
    source = (pack_dir / manifest["model"]["file"]).read_text(encoding="utf-8")
    try:
        result = run_child(
            {
                "action": "check",
                "source": source,
                "overrides": manifest["model"]["overrides"],
                "pack": str(pack_dir.resolve()),
                "calls": calls,
            },
            timeout_s=timeout_s,
        )
    except ChildError as e:
        result = {"passed": False, "error": str(e), "calls": [], "stats": {}}
    result["checked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    stats = result.get("stats") or {}
    if result.get("passed") and not stats.get("kernel_calls"):
        result["passed"] = False
        result["error"] = f"no pack kernel ran ({result.get('last_model_fallback') or 'every group fell back'})"
    (pack_dir / "check.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result
