"""``kiln regress``: re-verify the store's best kernels so CI catches one that broke or slowed down.

Composes the store (what was accepted, on which hardware, how fast) and the verifier (is it still
accepted, how fast now). README.md in this directory documents the rules; the modules hold one each:

- ``targets``: what is checked (latest best kernels, including stale ones) and the integrity check;
- ``shapes`` / ``reference``: the shapes and the reference a kernel is re-verified against;
- ``verifying``: running the verifier (once on CPU; ``repeats`` times on a GPU);
- ``speed``: the noise-aware speed rule (pure);
- ``recording``: what is written back to the store;
- ``runner``: one run, kernel by kernel; ``results``: outcomes and the exit code;
- ``render`` / ``junit``: the table and the JUnit XML; ``stores``: opening a database or a bundle.

Library use::

    from service.regress import RegressOptions, Selection, run_regress, select_targets
    run = run_regress(store, select_targets(store, Selection(families=("dwconv2d",))), RegressOptions())
    run.exit_code, run.to_dict()
"""

from service.regress.errors import RegressSetupError
from service.regress.results import KernelResult, RegressRun, exit_code_for
from service.regress.runner import RegressOptions, check_kernel, resolve_device, run_regress
from service.regress.speed import RecordedSpeed, SpeedJudgement, SpeedSample, judge_speed
from service.regress.targets import Selection, Target, integrity_problem, select_targets

__all__ = [
    "KernelResult",
    "RecordedSpeed",
    "RegressOptions",
    "RegressRun",
    "RegressSetupError",
    "Selection",
    "SpeedJudgement",
    "SpeedSample",
    "Target",
    "check_kernel",
    "exit_code_for",
    "integrity_problem",
    "judge_speed",
    "resolve_device",
    "run_regress",
    "select_targets",
]
