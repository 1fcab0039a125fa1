"""The GPU campaign's report: ``DIR/campaign.json`` (everything the parts wrote) and ``DIR/campaign.md``
(tables a person reads), from ``DIR/parts/*.json`` (``benchmarks/gpu_campaign.py report``).

A part that was skipped (no sandbox for the corpus, no limit for the GPU tests) counts as done with
its reason shown; an item a part did not reach before its deadline is ``not run``, never a failure
and never a pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PARTS = ("env", "template", "corpus", "stability", "gpu-tests")
GPU_TESTS = "tests/verifier/test_gpu.py"
NOT_RUN = "not run"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def part_report(out: Path) -> int:
    parts = out / "parts"
    env = _read(parts / "env.json") or {}
    status = {name: _read(parts / f"{name}.status.json") or {"status": NOT_RUN} for name in PARTS}
    campaign = {
        "campaign": env,
        "sandbox": _read(parts / "sandbox.json"),
        "plan": _read(parts / "plan.json"),
        "parts": status,
        "gpu_tests": _read(parts / "gpu-tests.json"),
        "corpus": _read(parts / "corpus.json"),
        "template": _read(parts / "template.json"),
        "stability": _read(parts / "stability.json"),
    }
    _skipped_parts(campaign)
    campaign["summary"] = summarise(campaign)
    (out / "campaign.json").write_text(json.dumps(campaign, indent=2, default=str) + "\n")
    (out / "campaign.md").write_text(markdown(campaign))
    print(f"wrote {out / 'campaign.json'} and {out / 'campaign.md'}")
    print(campaign["summary"]["line"])
    return 0 if campaign["summary"]["good"] else 1


def _skipped_parts(c: dict[str, Any]) -> None:
    """A part the script skipped (limit 0) wrote nothing: say why in its place."""
    trusted = bool((c.get("sandbox") or {}).get("trusted_code"))
    why = "no sandbox on this host: the adversarial corpus is untrusted code by design"
    if c["parts"]["corpus"].get("status") == "skipped" and not c.get("corpus"):
        c["corpus"] = {"part_skipped": why if trusted else "no time limit given to this part"}
    if c["parts"]["gpu-tests"].get("status") == "skipped" and not c.get("gpu_tests"):
        note = "not run: no sandbox on this host" if trusted else "not run: off unless --limit gpu-tests=SECONDS"
        c["gpu_tests"] = {"status": "skipped", "note": note}


def summarise(c: dict[str, Any]) -> dict[str, Any]:
    """One line and a verdict: every part finished (or was skipped with a reason) and everything that
    ran was as expected."""
    corpus_data = c.get("corpus") or {}
    corpus = [r for r in corpus_data.get("results") or [] if r.get("verdict") != NOT_RUN]
    corpus_left = len(corpus_data.get("results") or []) - len(corpus)
    template = (c.get("template") or {}).get("tasks") or []
    ran = [r for r in template if r.get("status") != NOT_RUN]
    gpu = c.get("gpu_tests") or {}
    parts_ok = all(s.get("status") in ("done", "skipped") for s in c["parts"].values())
    corpus_ok = bool(corpus_data.get("part_skipped")) or (bool(corpus) and all(r.get("as_expected") for r in corpus))
    accepted = sum(r.get("verdict") == "accepted" for r in ran)
    template_ok = bool(ran) and accepted == len(ran)
    gpu_ok = gpu.get("status", "skipped") in ("passed", "skipped")
    stability = (c.get("stability") or {}).get("runs") or []
    stable_ok = bool(stability) and all(r.get("verdict") == "accepted" for r in stability)
    flagged = [r["task_id"] for r in ran if r.get("implausible")]
    good = parts_ok and corpus_ok and template_ok and gpu_ok and stable_ok
    sandbox = c.get("sandbox") or {}
    corpus_said = (
        "corpus skipped (no sandbox)"
        if corpus_data.get("part_skipped")
        else f"corpus {sum(bool(r.get('as_expected')) for r in corpus)}/{len(corpus)} as expected"
        + (f" ({corpus_left} not run)" if corpus_left else "")
    )
    line = (
        f"sandbox {sandbox.get('mechanism', '?')}{' (trusted code only)' if sandbox.get('trusted_code') else ''}; "
        f"parts {'all done' if parts_ok else 'NOT all done'}; GPU tests {gpu.get('status', 'not run')}; "
        f"{corpus_said}; template {accepted}/{len(ran)} tasks accepted"
        + (f" ({len(template) - len(ran)} not reached)" if len(template) > len(ran) else "")
        + (f", implausible: {', '.join(flagged)}" if flagged else "")
        + f"; stability {sum(r.get('verdict') == 'accepted' for r in stability)}/{len(stability)} runs accepted"
    )
    return {"good": good, "line": line, "implausible": flagged}


def _f(x: Any, fmt: str = "{:.4g}") -> str:
    return "—" if x is None else fmt.format(x)


def _cell(text: Any) -> str:
    return str(text if text not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


def _interval(t: dict[str, Any]) -> str:
    lo, hi = t.get("speedup_low"), t.get("speedup_high")
    return "—" if lo is None or hi is None else f"{lo:.2f}-{hi:.2f}"


def _clock(t: dict[str, Any]) -> str:
    clocks = (t.get("sm_clock_mhz") or {}).get("candidate") or {}
    values = [v for v in (clocks.get("before"), clocks.get("after")) if v]
    return "/".join(str(v) for v in values) or "—"


def markdown(c: dict[str, Any]) -> str:
    env = c.get("campaign") or {}
    host = env.get("host") or {}
    sandbox = c.get("sandbox") or {}
    lines = [
        "# Kernel Kiln GPU campaign",
        "",
        f"- date: {env.get('date', '—')} ({env.get('mode', '—')})",
        f"- device: {host.get('device_name', '—')}"
        + (f" (compute capability {host['compute_capability']})" if host.get("compute_capability") else ""),
        f"- nvidia-smi: {env.get('nvidia_smi') or '—'}",
        f"- python {host.get('python', '—')}, torch {host.get('torch', '—')}, triton {host.get('triton', '—')}, "
        f"CUDA {host.get('cuda') or '—'}, nvcc: {env.get('nvcc') or '—'}",
        f"- commit: {env.get('git_commit') or '—'}",
        f"- sandbox: {sandbox.get('mechanism', '—')} (bwrap: {sandbox.get('bwrap') or 'none'}, "
        f"{sandbox.get('bwrap_from', '—')})" + (f"; {sandbox['consequence']}" if sandbox.get("consequence") else ""),
        f"- float32 baseline precision: {env.get('fp32_precision_baseline') or '—'}",
        f"- summary: {c['summary']['line']}",
        "",
    ]
    if sandbox.get("problem"):
        lines += [f"Why no sandbox: {_cell(sandbox['problem'][:600])}", ""]
    plan = c.get("plan") or {}
    if plan.get("text"):
        lines += ["## Plan (printed before the run)", "", "```", plan["text"], "```", ""]
    lines += ["## Parts", "", "| part | status | seconds | limit (s) |", "|---|---|---:|---:|"]
    for name, s in c["parts"].items():
        seconds = _f(s.get("seconds"), "{:.0f}")
        lines.append(f"| {name} | {_cell(s.get('status'))} | {seconds} | {_cell(s.get('limit_s'))} |")
    lines += _template_section(c.get("template") or {})
    lines += _corpus_section(c.get("corpus") or {})
    lines += _stability_section(c.get("stability") or {})
    lines += _gpu_tests_section(c.get("gpu_tests") or {})
    return "\n".join(lines) + "\n"


def _template_section(template: dict[str, Any]) -> list[str]:
    trows = template.get("tasks") or []
    accepted = sum(r.get("verdict") == "accepted" for r in trows)
    lines = [
        "",
        f"## Template compiler on {template.get('device', '—')}: {accepted}/{len(trows)} tasks accepted",
        "",
        f"Shapes: {template.get('shapes', '—')}. Kernel: {template.get('selection', '—')}. Times are the "
        "verifier's (median of its timed runs, ms); x eager with its 95% interval (order statistics of both "
        "medians); torch.compile timed for "
        f"{', '.join(template.get('compile_baseline') or []) or 'no task'}; roofline share = floor / kernel "
        "time on the device's datasheet profile and on its measured one; a flag marks a figure over 10x "
        "or over 100% of the roofline (kept out of fast_p until re-checked).",
        "",
        "| task | status | verdict | profile (tried) | shape | kernel ms | eager ms | compile ms | x eager "
        "| interval | x compile | roofline | roofline (measured) | SM MHz | flag | s |",
        "|---|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|---|---:|",
    ]
    for r in trows:
        t = r.get("timing") or {}
        roof, roof_m = r.get("roofline") or {}, r.get("roofline_measured") or {}
        tried = len(r.get("profiles_tried") or [])
        profile = (r.get("params") or {}).get("profile")
        lines.append(
            f"| {r.get('task_id')} | {_cell(r.get('status'))} | {_cell(r.get('verdict'))} "
            f"| {_cell(profile)} ({tried}) | {_cell(t.get('shape') or ', '.join(r.get('shapes') or []))} "
            f"| {_f(t.get('candidate_ms'))} | {_f(t.get('eager_ms'))} | {_f(t.get('compiled_ms'))} "
            f"| {_f(t.get('speedup_eager'), '{:.2f}')} | {_interval(t)} | {_f(t.get('speedup_compiled'), '{:.2f}')} "
            f"| {_f(roof.get('share'), '{:.1%}')} | {_f(roof_m.get('share'), '{:.1%}')} | {_clock(t)} "
            f"| {'**re-check**' if r.get('implausible') else ''} | {_f(r.get('wall_s'), '{:.0f}')} |"
        )
    for r in trows:
        if r.get("verdict") != "accepted":
            why = r.get("first_rejection") or r.get("note") or (r.get("errors") or [""])[0] or r.get("log_tail") or ""
            lines.append(f"- {r['task_id']}: {_cell(str(why)[-300:])}")
        elif r.get("implausible"):
            lines.append(f"- {r['task_id']}: {_cell(r['implausible'])}")
    return lines


def _corpus_section(corpus: dict[str, Any]) -> list[str]:
    if corpus.get("part_skipped"):
        return ["", f"## Adversarial corpus: skipped ({corpus['part_skipped']})"]
    rows = corpus.get("results") or []
    ran = [r for r in rows if r.get("verdict") != NOT_RUN]
    good = sum(bool(r.get("as_expected")) for r in ran)
    lines = [
        "",
        f"## Adversarial corpus on {corpus.get('device', '—')}: {good}/{len(ran)} as expected"
        + (f", {len(rows) - len(ran)} not run (deadline)" if len(rows) > len(ran) else ""),
        "",
        f"Sandbox: {(corpus.get('sandbox') or {}).get('mechanism', '—')}. Timed entries first; the rest "
        "side by side. Entries expecting the static screen are judged with it on, the others with it off. "
        f"Never run here: {', '.join(corpus.get('skipped') or []) or 'none'} (they need a host-side secret "
        "file or listening server; tests/verifier/test_corpus.py runs them).",
        "",
        "| entry | expected | verdict | failed checks | as expected | kernel ms | seconds |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        timing = r.get("timing") or {}
        mark = "not run" if r.get("as_expected") is None else ("yes" if r["as_expected"] else "**NO**")
        lines.append(
            f"| {r.get('candidate')} | {'/'.join(r.get('expected') or [])} | {r.get('verdict')} "
            f"| {_cell(', '.join(r.get('failed_checks') or []))} "
            f"| {mark} | {_f(timing.get('candidate_ms'))} | {_f(r.get('seconds'))} |"
        )
    return lines


def _stability_section(stab: dict[str, Any]) -> list[str]:
    sp, rounds = stab.get("spread"), stab.get("speedup_rounds")
    lines = ["", "## Stability: one kernel verified and timed repeatedly", "", f"Kernel: {stab.get('kernel', '—')}."]
    if sp:
        lines.append(
            f"Kernel time over {sp['n']} runs: min {sp['min_ms']:.4g} ms, median {sp['median_ms']:.4g} ms, "
            f"max {sp['max_ms']:.4g} ms; spread (max - min) / median = {sp['spread']:.1%}."
        )
    else:
        lines.append("No spread: fewer than two timed runs (a CPU dry run times nothing).")
    if rounds:
        lines.append(
            f"Speedup over eager (each run's eager baseline re-timed next to it) over {rounds['rounds']} runs: "
            f"{rounds['min']:.2f}-{rounds['max']:.2f}, median {rounds['median']:.2f} (spread {rounds['spread']:.1%})."
        )
    if stab.get("stopped"):
        lines.append(stab["stopped"] + ".")
    lines += [
        "",
        "| run | verdict | kernel ms | eager ms | x eager | interval | s |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for r in stab.get("runs") or []:
        lines.append(
            f"| {r.get('run')} | {r.get('verdict')} | {_f(r.get('candidate_ms'))} | {_f(r.get('eager_ms'))} "
            f"| {_f(r.get('speedup_eager'), '{:.2f}')} | {_interval(r)} | {_f(r.get('seconds'), '{:.0f}')} |"
        )
    return lines


def _gpu_tests_section(gpu: dict[str, Any]) -> list[str]:
    lines = ["", f"## GPU tests ({GPU_TESTS}): {gpu.get('status', 'not run')}", ""]
    if gpu.get("note"):
        lines.append(gpu["note"])
    if gpu.get("tests"):
        lines += ["| test | outcome | message |", "|---|---|---|"]
        lines += [f"| {_cell(t['name'])} | {t['outcome']} | {_cell(t['message'][:200])} |" for t in gpu["tests"]]
    return lines
