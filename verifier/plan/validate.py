"""Checking launch plans in the trusted parent, and what the runner needs to know about their values.

A plan (per forward call) is::

    {"inputs":  <the forward's arguments: {"v": n} for each tensor, literals otherwise>,
     "steps":   [{"op": "aten.empty_like.default", "args": [...], "kwargs": {...}, "out": <values>},
                 {"launch": "kernel_name", "variants": [{"args": {param: value}, "grid": [x, y, z],
                                                          "options": {"num_warps": 4, ...}}, ...]}],
     "returns": <what forward returned>}

plus its constants (value numbers with dtype, shape and bytes). Value numbers are global to a
candidate: a value made in an earlier call (a buffer kept and returned every call, a workspace) may
be used again. :func:`check_plan` refuses a plan that uses a value before it exists, holds an op
other than allocation, layout and data movement (``no_fallback``), or launches anything but a
top-level ``@triton.jit`` function of the candidate's file, with arguments that fit its parameters
(``plan``). :func:`canonical` and :func:`releases` serve the stability rule and the runner's memory.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from verifier.plan import ops
from verifier.plan import values as pv
from verifier.plan.kernel_source import KernelSource

MAX_STEPS = 20_000
MAX_GRID = (1 << 31) - 1
MAX_GRID_YZ = 65535
OPTION_LIMITS = {"num_warps": (1, 32), "num_stages": (0, 16), "num_ctas": (1, 16), "maxnreg": (16, 255)}


@dataclass(frozen=True)
class Issue:
    check: str
    """``no_fallback`` (a framework compute op) or ``plan`` (anything else wrong with the plan)."""
    message: str


@dataclass
class PlanFacts:
    """What checking one plan established (used to compare plans and to free values)."""

    inputs: list[int] = field(default_factory=list)
    new: list[int] = field(default_factory=list)
    """Values this plan makes, in order (step outputs, views, constants)."""
    used: set[int] = field(default_factory=set)
    launches: list[tuple[str, int]] = field(default_factory=list)
    """(kernel, number of variants) per launch step."""


def _flat_refs(obj: Any) -> list[int]:
    try:
        return pv.refs(obj)
    except pv.PlanError:
        return []


def _literal_only(obj: Any) -> bool:
    return not _flat_refs(obj)


def check_plan(
    plan: Any,
    kernels: KernelSource,
    defined: set[int],
    constants: Iterable[int],
    input_tensors: int,
    allowed_ops: Iterable[str] = (),
) -> tuple[list[Issue], PlanFacts]:
    """Issues of one call's plan; ``defined`` (values that exist before it) grows with what it makes."""
    issues: list[Issue] = []
    facts = PlanFacts()
    allowed = frozenset(allowed_ops)

    def fail(message: str, check: str = "plan") -> tuple[list[Issue], PlanFacts]:
        issues.append(Issue(check, message))
        return issues, facts

    problem = schema_problem(plan)
    if problem is not None:
        return fail(problem)
    steps = plan["steps"]

    def define(vid: int, what: str) -> bool:
        if vid in defined:
            issues.append(Issue("plan", f"{what} reuses value {vid}, which already exists"))
            return False
        defined.add(vid)
        facts.new.append(vid)
        return True

    def use(obj: Any, what: str) -> bool:
        try:
            found = pv.refs(obj)
        except pv.PlanError as e:
            issues.append(Issue("plan", f"{what}: {e}"))
            return False
        missing = [r for r in found if r not in defined]
        if missing:
            issues.append(Issue("plan", f"{what} uses value {missing[0]}, which does not exist at that point"))
            return False
        facts.used.update(found)
        return True

    try:
        input_refs = pv.refs(plan["inputs"])
    except pv.PlanError as e:
        return fail(f"inputs: {e}")
    if len(input_refs) != input_tensors:
        return fail(f"the plan names {len(input_refs)} input tensor(s); the call has {input_tensors}")
    for vid in input_refs:
        if not define(vid, "an input"):
            return issues, facts
    facts.inputs = list(input_refs)
    for vid in constants:
        if not define(vid, "a constant"):
            return issues, facts

    for index, step in enumerate(steps):
        where = f"step {index + 1}"
        if not isinstance(step, dict):
            return fail(f"{where} is malformed")
        if "op" in step:
            op = step.get("op")
            if not isinstance(op, str) or len(op) > 200 or op.count(".") < 1:
                return fail(f"{where} names no op")
            if ops.refused(op, allowed):
                shown = ops.packet(op)
                note = f"; the task allows only {sorted(allowed)}" if allowed else ""
                if not any(i.check == "no_fallback" and shown in i.message for i in issues):
                    issues.append(
                        Issue(
                            "no_fallback",
                            f"the forward runs framework compute op {shown}: a fallback to PyTorch (plans hold "
                            f"allocation, layout and data movement only{note})",
                        )
                    )
                try:
                    outs = pv.refs(step.get("out"))
                except pv.PlanError:
                    outs = []
                for vid in outs:
                    defined.add(vid)  # later steps may use it: one finding per refused op is enough
                continue
            args, kwargs = step.get("args"), step.get("kwargs", {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                return fail(f"{where} ({ops.packet(op)}) has malformed arguments")
            if not use(args, f"{where} ({ops.packet(op)})") or not use(list(kwargs.values()), f"{where} kwargs"):
                return issues, facts
            try:
                outs = pv.refs(step.get("out"))
            except pv.PlanError as e:
                return fail(f"{where} ({ops.packet(op)}) output: {e}")
            arg_refs = set(_flat_refs(args))
            for vid in outs:
                if vid in defined and vid in arg_refs:
                    continue  # an in-place op's result is its argument
                if not define(vid, f"{where} ({ops.packet(op)})"):
                    return issues, facts
        elif "launch" in step:
            if not _check_launch(step, kernels, where, issues, use):
                return issues, facts
            facts.launches.append((str(step["launch"]), len(step["variants"])))
        else:
            return fail(f"{where} is neither an op nor a launch")
    if not use(plan["returns"], "the returned value"):
        return issues, facts
    return issues, facts


PLAN_KEYS = frozenset({"inputs", "steps", "returns"})
OP_KEYS = frozenset({"op", "args", "kwargs", "out"})
LAUNCH_KEYS = frozenset({"launch", "line", "variants"})
VARIANT_KEYS = frozenset({"args", "grid", "options"})
MAX_VARIANTS = 64


MAX_PLAN_ITEMS = 2_000_000
"""Values (every number, reference and list) in all the plans of one candidate together."""


def schema_problem(plan: Any, budget: list[int] | None = None) -> str | None:
    """Why ``plan`` does not have the plan's shape (exact keys, every value in the value grammar), or
    None. Checked before anything else reads the plan, so nothing walks an unchecked structure.
    ``budget`` (one-element list) counts values across plans: a candidate's plans hold at most
    :data:`MAX_PLAN_ITEMS` in all."""
    budget = [MAX_PLAN_ITEMS] if budget is None else budget
    if not isinstance(plan, dict) or set(plan) != PLAN_KEYS:
        return "the planner sent a malformed plan"
    steps = plan["steps"]
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        return f"a plan must be a list of at most {MAX_STEPS} steps"
    try:
        pv.check_value(plan["inputs"], 0, budget)
        pv.check_value(plan["returns"], 0, budget)
        for index, step in enumerate(steps):
            where = f"step {index + 1}"
            budget[0] -= 1
            if budget[0] < 0:
                return f"the plans hold more than {MAX_PLAN_ITEMS} values in all"
            if not isinstance(step, dict):
                return f"{where} is malformed"
            if "op" in step:
                if not set(step) <= OP_KEYS or not {"op", "args", "out"} <= set(step):
                    return f"{where} has fields a plan step does not have: {sorted(set(step) - OP_KEYS)[:4]}"
                if not isinstance(step["op"], str) or not isinstance(step["args"], list):
                    return f"{where} is malformed"
                if not isinstance(step.get("kwargs", {}), dict) or len(step.get("kwargs", {})) > 32:
                    return f"{where} has malformed keyword arguments"
                if len(step["args"]) > 64:
                    return f"{where} has too many arguments"
                for value in [*step["args"], *step.get("kwargs", {}).values(), step["out"]]:
                    pv.check_value(value, 0, budget)
                if not all(isinstance(k, str) and len(k) <= 64 for k in step.get("kwargs", {})):
                    return f"{where} has a malformed keyword"
            elif "launch" in step:
                if set(step) != LAUNCH_KEYS or not isinstance(step["launch"], str) or len(step["launch"]) > 200:
                    return f"{where} is a malformed launch"
                if not isinstance(step["line"], int) or isinstance(step["line"], bool):
                    return f"{where} is a malformed launch"
                variants = step["variants"]
                if not isinstance(variants, list) or not 0 < len(variants) <= MAX_VARIANTS:
                    return f"{where}: a launch with {len(variants) if isinstance(variants, list) else '?'} variants"
                for variant in variants:
                    if not isinstance(variant, dict) or not set(variant) <= VARIANT_KEYS or "args" not in variant:
                        return f"{where}: a malformed launch variant"
                    args, options = variant["args"], variant.get("options", {})
                    if not isinstance(args, dict) or len(args) > 256 or not all(isinstance(k, str) for k in args):
                        return f"{where}: malformed launch arguments"
                    for value in args.values():
                        pv.check_value(value, 0, budget)
                    if not isinstance(options, dict) or len(options) > 8:
                        return f"{where}: malformed launch options"
                    pv.check_value({"l": list(options.values())}, 0, budget)
                    if isinstance(variant.get("grid"), list):
                        pv.check_value({"l": variant["grid"]}, 0, budget)
            else:
                return f"{where} is neither an op nor a launch"
    except pv.PlanError as e:
        return str(e)
    return None


def _check_launch(step: dict[str, Any], kernels: KernelSource, where: str, issues: list[Issue], use: Any) -> bool:
    name = step.get("launch")
    if not isinstance(name, str) or name not in kernels.kernels:
        why = kernels.skipped.get(str(name))
        detail = f" ({why})" if why else ""
        issues.append(
            Issue(
                "plan",
                f"{where} launches `{name}`, which is not a top-level @triton.jit function of the candidate's file"
                f"{detail}: kernels are taken from the file's text, never from what its code built",
            )
        )
        return False
    kernel = kernels.kernels[name]
    if step.get("line") != kernel.first_line:
        issues.append(
            Issue(
                "plan",
                f"{where} launches a function named `{name}` whose code starts at line {step.get('line')}, not the "
                f"file's top-level kernel of that name (line {kernel.first_line}): the name was bound to another "
                "function when the forward ran",
            )
        )
        return False
    variants = step.get("variants")
    if not isinstance(variants, list) or not variants:
        issues.append(Issue("plan", f"{where}: launch of `{name}` with no variant"))
        return False
    expected = len(kernel.autotune.configs) if kernel.autotune else 1
    if len(variants) != expected:
        issues.append(
            Issue(
                "plan",
                f"{where}: `{name}` has {expected} autotune config(s) in the file; the plan gives {len(variants)}",
            )
        )
        return False
    for i, variant in enumerate(variants):
        label = f"{where}: `{name}`" + (f" (config {i + 1})" if kernel.autotune else "")
        if not isinstance(variant, dict):
            issues.append(Issue("plan", f"{label}: malformed launch"))
            return False
        args, grid, options = variant.get("args"), variant.get("grid"), variant.get("options", {})
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            issues.append(Issue("plan", f"{label}: malformed arguments"))
            return False
        unknown = [k for k in args if k not in kernel.params]
        if unknown:
            issues.append(Issue("plan", f"{label}: no parameter named {unknown[0]!r}"))
            return False
        missing = [p for p in kernel.params if p not in args and p not in kernel.defaults]
        if missing:
            issues.append(Issue("plan", f"{label}: parameter {missing[0]!r} has no value"))
            return False
        for p in kernel.constexpr_params:
            if p in args and not _literal_only(args[p]):
                issues.append(Issue("plan", f"{label}: constexpr parameter {p!r} is given a tensor"))
                return False
        for p, value in args.items():
            if p in kernel.constexpr_params or value is None or isinstance(value, (bool, int, float)):
                continue
            if isinstance(value, dict) and (set(value) == {"v"} or set(value) == {"f"}):
                continue
            issues.append(
                Issue(
                    "plan",
                    f"{label}: parameter {p!r} (not a tl.constexpr) gets {str(value)[:40]}: a tensor or a "
                    "number is expected",
                )
            )
            return False
        if kernel.autotune:
            config = kernel.autotune.configs[i]
            for k, v in config.kwargs.items():
                if k not in args or args[k] != _json_literal(v):
                    issues.append(Issue("plan", f"{label}: {k} is not the config's value {v!r}"))
                    return False
            for k, v in config.options.items():
                if isinstance(options, dict) and options.get(k, v) != v:
                    issues.append(Issue("plan", f"{label}: {k}={options.get(k)} is not the config's {v}"))
                    return False
        if not _grid_ok(grid):
            issues.append(Issue("plan", f"{label}: grid {str(grid)[:60]} is not 1 to 3 integers within CUDA's limits"))
            return False
        if not isinstance(options, dict) or not all(_option_ok(k, v) for k, v in options.items()):
            issues.append(Issue("plan", f"{label}: launch options {str(options)[:80]} are not supported"))
            return False
        if not use(list(args.values()), label):
            return False
    return True


def _json_literal(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    return value


def _grid_ok(grid: Any) -> bool:
    if not isinstance(grid, list) or not 1 <= len(grid) <= 3:
        return False
    if not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in grid):
        return False
    return grid[0] <= MAX_GRID and all(g <= MAX_GRID_YZ for g in grid[1:])


def _option_ok(key: Any, value: Any) -> bool:
    if key not in OPTION_LIMITS or not isinstance(value, int) or isinstance(value, bool):
        return False
    low, high = OPTION_LIMITS[key]
    return low <= value <= high


def canonical(plan: dict[str, Any], facts: PlanFacts, constant_digests: dict[int, str]) -> str:
    """The plan with this call's own values renumbered in order of appearance (inputs, constants by
    content, new values) and earlier values kept as they are: two calls that do the same thing give
    the same text."""
    local: dict[int, str] = {}
    for i, vid in enumerate(facts.inputs):
        local[vid] = f"in{i}"
    counter = 0
    for vid in facts.new:
        if vid in local:
            continue
        if vid in constant_digests:
            local[vid] = f"const:{constant_digests[vid]}"
        else:
            local[vid] = f"new{counter}"
            counter += 1

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {"v"} and isinstance(obj["v"], int):
                return {"v": local.get(obj["v"], f"kept{obj['v']}")}
            return {k: walk(v) for k, v in sorted(obj.items())}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return json.dumps(walk(plan), sort_keys=True, separators=(",", ":"))


def digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def releases(sequence: list[PlanFacts], keep: Iterable[int] = ()) -> list[list[int]]:
    """For each call in ``sequence`` (every call of every instance, in the order they run), the
    values the runner may free after it: those no later call uses (``keep`` are never freed)."""
    last: dict[int, int] = {}
    for i, facts in enumerate(sequence):
        for vid in [*facts.inputs, *facts.new, *facts.used]:
            last[vid] = i
    kept = set(keep)
    out: list[list[int]] = [[] for _ in sequence]
    for vid, i in last.items():
        if vid not in kept:
            out[i].append(vid)
    return [sorted(v) for v in out]
