"""``kiln regress --pack DIR``: re-verify every kernel of a pack on this host and compare with its manifest.

Each kernel file is checked against the manifest's sha256, then verified (``verifier.verify``) against
its group reference on this host's device. A kernel the manifest lists as accepted must be accepted
again (``regressed`` otherwise; ``could_not_run`` when the verifier could not run it). Speedups are
noted, never compared across hardware: a kernel verified on other hardware is checked for
correctness here. Last, the pack's end-to-end check (the patched model against eager) runs as one
more case. JUnit: one testcase per kernel plus ``end_to_end``.
"""

from __future__ import annotations

import hashlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.compile.pack_build import end_to_end_check
from service.regress.results import exit_code_for

OUTCOMES = ("held", "regressed", "could_not_run")


@dataclass
class PackCase:
    name: str
    outcome: str
    reason: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "reason": self.reason, "seconds": round(self.seconds, 3),
                "notes": self.notes}  # fmt: skip


@dataclass
class PackRegress:
    pack: str
    device: str
    cases: list[PackCase]

    @property
    def exit_code(self) -> int:
        """``kiln regress``'s codes: 1 a kernel regressed, 2 one could not run, else 0."""
        return exit_code_for([c.outcome for c in self.cases])  # type: ignore[misc]

    def headline(self) -> str:
        counts = {o: sum(1 for c in self.cases if c.outcome == o) for o in OUTCOMES}
        return f"pack {self.pack}: " + ", ".join(f"{n} {o}" for o, n in counts.items())

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "device": self.device, "exit_code": self.exit_code,
                "cases": [c.to_dict() for c in self.cases]}  # fmt: skip


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _verify_kernel(root: Path, entry: dict[str, Any], device: str, options: Any, host: dict[str, Any]) -> PackCase:
    import verifier
    from verifier import VerifierInputError

    started = time.monotonic()
    name = entry["name"]
    kernel = (root / entry["kernel_file"]).read_text(encoding="utf-8")
    group = (root / entry["group_file"]).read_text(encoding="utf-8")
    if _sha256(kernel) != entry["kernel_sha256"] or _sha256(group) != entry["group_sha256"]:
        return PackCase(name, "regressed", "a kernel or group file does not match the manifest's sha256")
    notes = [f"recorded: {entry['verdict']} on {entry['device_name']} ({entry['hardware_fingerprint']})"]
    if entry.get("hardware_fingerprint") != host.get("hardware_fingerprint"):
        notes.append(f"re-verified on other hardware ({host.get('device_name', device)}): correctness only")
    try:
        prepared = verifier.prepare(verifier.Reference(source=group, name=entry["task_id"]), options)
        report = verifier.verify(prepared, verifier.Candidate(source=kernel, name=name), options)
    except VerifierInputError as e:
        return PackCase(
            name, "could_not_run", f"the verifier could not run: {e}"[:500], time.monotonic() - started, notes
        )
    seconds = time.monotonic() - started
    if report.timing is not None:
        notes.append(f"speedup now {report.timing.speedup_eager:.2f}x (recorded {entry.get('speedup_eager')})")
    if report.verdict == "accepted":
        return PackCase(name, "held", "accepted again", seconds, notes)
    if report.verdict == "not_run":
        return PackCase(name, "could_not_run", "; ".join(report.reasons)[:500] or "not run", seconds, notes)
    return PackCase(name, "regressed", "; ".join(report.reasons)[:500] or "rejected", seconds, notes)


def regress_pack(
    pack_dir: Path, device: str, *, timeout_s: float = 180.0, trials: int = 3,
    progress: Callable[[str], None] | None = None,
) -> PackRegress:  # fmt: skip
    """Re-verify every kernel of the pack and run its end-to-end check (see the module docstring)."""
    import kernelkiln.pack
    from verifier import VerifyOptions
    from verifier.hostinfo import describe_host

    say = progress or (lambda _m: None)
    manifest = kernelkiln.pack.read_manifest(pack_dir)
    host = describe_host(device)
    options = VerifyOptions(device=device, timeout_s=timeout_s, trials=trials)  # type: ignore[arg-type]
    cases: list[PackCase] = []
    for i, entry in enumerate(manifest.get("kernels", []), 1):
        say(f"[{i}/{len(manifest['kernels'])}] {entry['name']}")
        cases.append(_verify_kernel(pack_dir, entry, device, options, host))
    say("end-to-end check: the patched model against eager")
    started = time.monotonic()
    check = end_to_end_check(pack_dir, manifest)
    stats = check.get("stats") or {}
    detail = (
        f"{stats.get('kernel_calls', 0)} kernel call(s), {stats.get('fallback_calls', 0)} fallback(s)"
        + (f"; {check['error']}" if check.get("error") else "")
        + "".join(f"; call {c['call']}: {c['detail']}" for c in check.get("calls", []) if not c.get("passed"))
    )
    outcome = (
        "held"
        if check.get("passed")
        else ("could_not_run" if check.get("error") and not check.get("calls") else "regressed")
    )
    cases.append(PackCase("end_to_end", outcome, detail[:800], time.monotonic() - started))
    return PackRegress(str(pack_dir), device, cases)


def junit_tree(run: PackRegress) -> ET.ElementTree:
    """One testsuite ``kiln regress --pack``: a testcase per kernel and one for the end-to-end check."""
    root = ET.Element("testsuites", name="kiln regress --pack")
    failures = sum(1 for c in run.cases if c.outcome == "regressed")
    errors = sum(1 for c in run.cases if c.outcome == "could_not_run")
    suite = ET.SubElement(
        root, "testsuite", name=f"kiln regress --pack {run.pack}", tests=str(len(run.cases)),
        failures=str(failures), errors=str(errors), skipped="0", time=f"{sum(c.seconds for c in run.cases):.3f}",
    )  # fmt: skip
    for case in run.cases:
        element = ET.SubElement(suite, "testcase", classname="kiln.pack", name=case.name, time=f"{case.seconds:.3f}")
        text = "\n".join([f"reason: {case.reason}", *(f"note: {n}" for n in case.notes)])
        if case.outcome == "regressed":
            ET.SubElement(element, "failure", message=case.reason, type="regression").text = text
        elif case.outcome == "could_not_run":
            ET.SubElement(element, "error", message=case.reason, type="could_not_run").text = text
        ET.SubElement(element, "system-out").text = text
    return ET.ElementTree(root)
