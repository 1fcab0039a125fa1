"""Run the LLM loop against the scripted server on built-in tasks and record what its prompts contained
and what was verified: issue 28's GPU check (the improve and crossover prompts with real timings).

    python benchmarks/llm_prompts.py [--task ID ...] [--device auto|cpu|cuda] [--rounds N] [--samples N]
                                     [--max-seconds S] [--out DIR]

The template compiler's kernel is verified first (the seed). The scripted model then answers every
prompt with a kernel it was shown (the seed, or crossover's kernel A), marked by a comment so that
each answer is a distinct candidate: the point is the prompts (timings, roofline share, static GPU
profile, history) and the verdicts, not a faster kernel. ``search_without_timing`` is on, so a CPU
dry run asks for improvements too. Writes ``DIR/llm_prompts.json`` (per task: every request's kind and
what its last user message said, every candidate's verdict and speedup) and prints a summary line per
task. Nothing is estimated: speedups are the verifier's measurements (none on a CPU).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import agents  # noqa: E402
from agents.llm import prompts  # noqa: E402
from tests.agents.fake_llm import FakeLLM, fenced, last_user_message  # noqa: E402
from verifier import VerifyOptions  # noqa: E402

TASKS = ["dwconv2d.convnext_7x7", "general.softmax"]
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def kind_of(body: dict[str, Any]) -> str:
    """Which prompt a request is, from the ask that ends its last user message."""
    asked = last_user_message(body)
    for kind, marker in (
        ("crossover", "combines the best ideas of both"),
        ("refine", prompts.FIX),
        ("improve", prompts.FASTER),
        ("improve-seed", prompts.START_FROM),
        ("retry", "could not use your previous answer"),
    ):
        if marker in asked:
            return kind
    return "initial"


def shown_kernel(body: dict[str, Any], seed: str | None) -> str | None:
    """The kernel the prompt showed the model (crossover: kernel A; follow-ups: the earlier answer)."""
    messages = body.get("messages", [])
    if kind_of(body) == "crossover":
        blocks = _BLOCK.findall(last_user_message(body).split("Kernel A:", 1)[-1])
        return blocks[0] if blocks else seed
    answered = [m["content"] for m in messages if m["role"] == "assistant"]
    blocks = _BLOCK.findall(answered[-1]) if answered else []
    return blocks[0] if blocks else seed


def what_was_said(body: dict[str, Any]) -> str:
    """The part of the last user message that is not the initial task statement."""
    asked = last_user_message(body)
    if kind_of(body) == "crossover":
        return asked[asked.index("Two correct kernels") :]
    return asked if len(asked) < 8000 else asked[:8000] + "…"


def run_task(task_id: str, device: str, rounds: int, samples: int, max_seconds: float) -> dict[str, Any]:
    state: dict[str, str] = {}

    def on_candidate(c: agents.CandidateResult) -> None:
        if c.origin == "template" and c.accepted and "seed" not in state:
            state["seed"] = c.source

    def script(body: dict[str, Any], index: int) -> tuple[int, str]:
        source = shown_kernel(body, state.get("seed"))
        if source is None:
            return 200, "I have no kernel to start from."
        return 200, fenced(source.rstrip() + f"\n# scripted answer {index}\n")

    with FakeLLM(script) as server:
        request = agents.GenerationRequest(
            reference=agents.reference_for_task(task_id, device),
            task_id=task_id,
            proposer="llm",
            model="scripted",
            base_url=server.base_url,
            verify_options=VerifyOptions(device=device),  # type: ignore[arg-type]
            budget=agents.Budget(max_candidates=64, max_seconds=max_seconds),
            samples_per_round=samples,
            rounds=rounds,
            seed_with_template=True,
            search_without_timing=True,
            max_retries=0,
        )
        result = agents.generate(request, on_candidate=on_candidate)
        requests = list(server.requests)
    return {
        "task_id": task_id,
        "device": result.device,
        "stopped_because": result.stopped_because,
        "errors": result.errors[:5],
        "requests": [{"kind": kind_of(b), "said": what_was_said(b)} for b in requests],
        "candidates": [
            {
                "name": c.name,
                "origin": c.origin,
                "kind": c.params.get("kind", "template"),
                "verdict": c.report.verdict,
                "speedup": c.report.speedup,
                "timed_on": c.report.timing.device_name if c.report.timing else None,
                "reasons": c.report.reasons[:2],
            }
            for c in result.candidates
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", help=f"built-in task id (default: {', '.join(TASKS)})")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=200.0, help="time budget per task")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    out = args.out or ROOT / "benchmarks" / "results" / f"llm_prompts_{device}_{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for task_id in args.task or TASKS:
        run = run_task(task_id, device, args.rounds, args.samples, args.max_seconds)
        runs.append(run)
        (out / "llm_prompts.json").write_text(json.dumps({"device": device, "runs": runs}, indent=2) + "\n")
        kinds = [r["kind"] for r in run["requests"]]
        verdicts = [f"{c['name']}:{c['verdict']}:{c['speedup']}" for c in run["candidates"]]
        print(f"{task_id}: {run['stopped_because']}; prompts {kinds}; candidates {verdicts}", flush=True)
    print(f"wrote {out / 'llm_prompts.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
