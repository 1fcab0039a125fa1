"""The GPU campaign's plan: its parts in order, each part's limit, what it is expected to do within it,
and the estimate printed before anything runs (``benchmarks/gpu_campaign.sh`` reads the limits here).

The estimate is arithmetic over stated per-step costs (``GPU_COSTS``: cold sandbox workers, a
prepared reference, a verification, a ``torch.compile`` baseline), not a measurement; each part
records the seconds it really took, so the next plan can be checked against the last run. Parts are
deadline-bound: a part that runs out keeps what it had, and its items not reached are listed as
such. Pure functions: tested on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GPU_BUDGET_S = 480.0
"""The lent GPU machine's one command: 8 minutes (its limit is 10, leaving time to copy results)."""
MARGIN_S = 15.0
"""Each part's own deadline is its limit less this, or less a quarter of a short limit (it writes what
it has before GNU timeout kills it)."""

GPU_COSTS: dict[str, float] = {
    "env": 8.0,  # torch import, CUDA init, nvidia-smi
    "sandbox_probe": 15.0,  # one reference prepared in the sandbox on the GPU (the whole worker path)
    "sandbox_probe_limit": 25.0,  # the probe's own time limit in the script
    "prepare": 12.0,  # reference worker: start, trials, 100 timed eager calls
    "compile_baseline": 30.0,  # torch.compile of the reference, cold Inductor cache
    "verify": 30.0,  # planner, compile (ptxas), runner and eager re-time workers, cold Triton cache
    "verify_rejected": 15.0,  # a cheat rejected before or at its first run
    "report": 3.0,
}
"""Seconds per step on the GPU machine (16 cores): the issue's reading of a cold start (6-12 s a worker,
40-70 s a task with torch.compile) with the campaign's cuts (one profile first, compile for two tasks)."""

TEMPLATE_TASKS: tuple[str, ...] = (
    "general.matmul",
    "general.softmax",
    "dwconv2d.convnext_7x7",
    "fftconv.long_conv",
    "conv1d.long_causal",
    "spmm.csr",
    "gcn.layer",
)
"""One representative task per family, matmul and softmax first, each at its first realistic shape."""
COMPILE_BASELINE: frozenset[str] = frozenset({"general.matmul", "general.softmax"})
"""The tasks whose torch.compile baseline is measured (a cold compile costs half a minute each)."""
CORPUS: tuple[str, ...] = (
    "honest_dwconv",
    "cheat_side_stream",
    "cheat_cached_outputs",
    "host_format_string_fields",
    "cheat_torch_fallback",
    "escape_subprocess",
)
"""The honest kernel (timed) and a few cheats, one per kind of check: side stream (GPU only, timed),
values, screen, fallback, sandbox."""
QUICK_CORPUS: tuple[str, ...] = ("honest_dwconv", "cheat_cached_outputs", "host_format_string_fields")
QUICK_TASKS: tuple[str, ...] = ("general.softmax",)
STABILITY_RUNS = 3
CORPUS_JOBS = 4

GPU_LIMITS: dict[str, float] = {"env": 20, "template": 243, "corpus": 102, "stability": 87, "gpu-tests": 0}
"""Seconds per part on a GPU (without a sandbox the template part gets the corpus's time too).
``gpu-tests`` (tests/verifier/test_gpu.py: the corpus part's honest, side stream and cached-output
checks again, through pytest) is off unless a limit is given."""
DRY_LIMITS: dict[str, float] = {"env": 60, "template": 600, "corpus": 600, "stability": 400, "gpu-tests": 120}
"""The CPU dry run: the Triton interpreter is far slower; the same parts with wider limits."""
PARTS: tuple[str, ...] = ("env", "template", "corpus", "stability", "gpu-tests")


@dataclass(frozen=True)
class Item:
    name: str
    seconds: float


@dataclass
class PartPlan:
    name: str
    limit_s: float
    items: list[Item] = field(default_factory=list)
    note: str = ""

    @property
    def deadline_s(self) -> float:
        """The part's own deadline (seconds from its start)."""
        return max(self.limit_s - min(MARGIN_S, self.limit_s / 4), 0.0)

    @property
    def wanted_s(self) -> float:
        """What the part's items would take in all."""
        return sum(i.seconds for i in self.items)

    @property
    def estimate_s(self) -> float:
        """What the part is expected to take: its items, or its deadline when they would not fit."""
        return min(self.wanted_s, self.deadline_s)

    def expected_items(self) -> list[str]:
        """The items expected to finish before the part's deadline (in order)."""
        done, spent = [], 0.0
        for item in self.items:
            spent += item.seconds
            if spent > self.deadline_s:
                break
            done.append(item.name)
        return done


def plan(
    sandboxed: bool, quick: bool = False, limits: dict[str, float] | None = None, costs: dict[str, float] | None = None
) -> list[PartPlan]:
    """The GPU plan: parts in the order they run, with their limits and expected items. Without a
    sandbox the corpus (untrusted code by design) is skipped and only the project's own kernels run."""
    c = {**GPU_COSTS, **(costs or {})}
    lim = dict(GPU_LIMITS)
    if not sandboxed:
        lim["template"] += lim["corpus"]
    lim.update(limits or {})
    tasks = QUICK_TASKS if quick else TEMPLATE_TASKS
    template = [
        Item(t, c["prepare"] + c["verify"] + (c["compile_baseline"] if t in COMPILE_BASELINE else 0.0)) for t in tasks
    ]
    corpus_names = QUICK_CORPUS if quick else CORPUS
    timed = [n for n in corpus_names if n.startswith("honest_") or n == "cheat_side_stream"]
    untimed = [n for n in corpus_names if n not in timed]
    waves = -(-len(untimed) // CORPUS_JOBS)
    corpus = [Item("prepare", c["prepare"]), *(Item(n, c["verify"]) for n in timed)]
    corpus += [Item(f"{len(untimed)} cheats, {CORPUS_JOBS} at a time", waves * c["verify_rejected"])]
    runs = 2 if quick else STABILITY_RUNS
    stability = [Item("prepare", c["prepare"]), *(Item(f"run {i + 1}", c["verify"]) for i in range(runs))]
    parts = [
        PartPlan("env", lim["env"], [Item("versions, GPU, clocks", c["env"])]),
        PartPlan("template", lim["template"], template),
        PartPlan(
            "corpus",
            lim["corpus"] if sandboxed else 0.0,
            corpus if sandboxed else [],
            "" if sandboxed else "skipped: no sandbox on this host (the corpus is untrusted code by design)",
        ),
        PartPlan("stability", lim["stability"], stability),
        PartPlan(
            "gpu-tests",
            lim["gpu-tests"] if sandboxed else 0.0,
            [Item("tests/verifier/test_gpu.py", c["prepare"] + 3 * c["verify"])] if lim["gpu-tests"] > 0 else [],
            "" if sandboxed else "skipped: no sandbox on this host",
        ),
    ]
    return parts


def total_estimate(parts: list[PartPlan], costs: dict[str, float] | None = None) -> float:
    """Seconds the whole run is expected to take: the sandbox probe, every part, the report."""
    c = {**GPU_COSTS, **(costs or {})}
    return c["sandbox_probe"] + sum(p.estimate_s for p in parts) + c["report"]


def total_limit(parts: list[PartPlan], costs: dict[str, float] | None = None) -> float:
    """The most the run can take: every part's limit (GNU timeout) plus the probe's and the report."""
    c = {**GPU_COSTS, **(costs or {})}
    return c["sandbox_probe_limit"] + sum(p.limit_s for p in parts) + c["report"]


def render(parts: list[PartPlan], budget_s: float = GPU_BUDGET_S) -> str:
    """The plan as printed at the start of a run."""
    lines = [f"plan (estimates from per-step costs, not measurements; budget {budget_s:.0f} s):"]
    for p in parts:
        if p.limit_s <= 0:
            lines.append(f"  {p.name:10s} off{(': ' + p.note) if p.note else ''}")
            continue
        expected = p.expected_items()
        left = [i.name for i in p.items if i.name not in expected]
        lines.append(
            f"  {p.name:10s} limit {p.limit_s:4.0f} s, expected {p.estimate_s:4.0f} s: "
            + ", ".join(expected or ["(nothing completes)"])
            + (f"; if time allows: {', '.join(left)}" if left else "")
        )
    est, cap = total_estimate(parts), total_limit(parts)
    verdict = "fits" if cap <= budget_s else "DOES NOT FIT"
    lines.append(
        f"  total: expected {est:.0f} s ({est / 60:.1f} min), at most {cap:.0f} s: {verdict} in {budget_s:.0f} s"
    )
    return "\n".join(lines)
