"""The automatic small tier for KernelBench-format sources: shrink top-level integer size constants.

KernelBench sizes are GPU sizes (level 1's ReLU is 4096 x 393216 floats); under the CPU Triton
interpreter nothing that large finishes. ``shrink(source)`` picks new values for the module's
top-level integer constants so that the reference runs in about a second and a simple kernel in
seconds, and checks the choice by running the reference in the verifier's sandbox
(``verifier.prepare``) and its non-degeneracy guard.

How values are chosen (all constants are read with ``ast``, never by importing the source):

* **Variables**: top-level integer constants whose value is a literal expression (``N = 2048 * 2``)
  and the integer elements of literal tuples/lists (``input_shape = (32768,)``). Names that describe
  an op's window rather than a size (kernel, stride, padding, dilation, groups) are never changed,
  nor is any value at or below the floor (``dim = 1``, ``in_channels = 3``, ``kernel_size = 5``).
* **One divisor for all**: every variable becomes ``max(min(v, floor), ceil(v / f))`` for the
  smallest power of two ``f`` whose work estimate (the product of the size and kernel constants:
  elements for elementwise ops, multiply-adds for matmuls and convolutions) fits the budget. One
  monotone map keeps what the op needs: sizes that were equal stay equal, ordered sizes stay ordered
  (tall-skinny stays tall-skinny, large K stays large), odd sizes stay odd (masking bugs still show).
* **Divisibility**: a size divisible by a ``groups``/``num_groups``/``num_heads`` constant stays so.
* **Derived constants** (``groups = in_channels``, ``input_shape = (num_classes,)``) are evaluated
  again from the new values, so sizes that must match still match.
* **Checked by running**: the reference runs sandboxed on the chosen shape (one trial, one call); it
  must load, run, give a non-degenerate output and stay within the size limits (its time is
  estimated and recorded, not judged: a busy machine would make it noise). Otherwise
  the next proposal is tried (a larger floor for windows that no longer fit, a smaller budget for a
  shape still too slow). When none passes the result is ``no_small_shape`` with every attempt's
  reason; a reference that cannot even load is ``reference_failed``.

This module imports the standard library, torch (through the verifier) and the verifier's public
API only.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from verifier.parsing import parse_or_raise

WORK_BUDGET = 1 << 18
"""Largest work estimate (product of size and kernel constants) of the first proposal."""
FLOOR = 8
"""No size is shrunk below this (nor changed when it is already at most this)."""
BATCH_FLOOR = 2
"""Batch sizes may go down to this."""
MAX_ELEMENTS = 1 << 22
"""A shape whose inputs, parameters and outputs hold more elements than this is too large, even when
nothing is left to shrink (sizes written as literals inside ``get_inputs``)."""
SHAPE_NAME = "small"

WINDOW_NAME = re.compile(r"kernel|stride|pad|dilation|group", re.IGNORECASE)
"""Constants that describe an op's window or grouping, not a size: never shrunk."""
NOT_WORK_NAME = re.compile(r"stride|pad|dilation|group", re.IGNORECASE)
"""Constants left out of the work estimate (kernel sizes count: work per output element)."""
DIVISOR_NAME = re.compile(r"group|head", re.IGNORECASE)
"""Constants whose multiples must stay multiples (channels per group, dimension per head)."""
DIVIDED_NAME = re.compile(r"chan|feat|embed|hidden|model|(^|_)dim", re.IGNORECASE)
"""Sizes that such a constant divides (channels per group, embedding per head), batch sizes excluded."""
BATCH_NAME = re.compile(r"batch", re.IGNORECASE)
MAX_DIM = 4096
"""No shrunk size stays above this (a square matmul's one constant ``N`` is cubic work)."""
ELEMENT_TARGET = 1 << 19
"""Inputs, parameters and outputs of a shape above this many elements are shrunk further."""

Status = str  # "ok" | "no_small_shape" | "reference_failed"


class ShrinkError(ValueError):
    """The source cannot be analysed (syntax error); the shrinker reports other faults as results."""


# -- constants ------------------------------------------------------------------------------------

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class _NotConstant(Exception):
    pass


def _evaluate(node: ast.expr, env: Mapping[str, Any], names: set[str]) -> Any:
    """A literal arithmetic expression over earlier constants; records the names it read."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise _NotConstant(node.id)
        names.add(node.id)
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, env, names)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _NotConstant("unary")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left, env, names), _evaluate(node.right, env, names)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            raise _NotConstant("binop")
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise _NotConstant("power")
        try:
            return _BINOPS[type(node.op)](left, right)
        except (ArithmeticError, ValueError):
            raise _NotConstant("arithmetic") from None
    if isinstance(node, ast.Tuple | ast.List):
        return [_evaluate(e, env, names) for e in node.elts]
    raise _NotConstant(type(node).__name__)


@dataclass(frozen=True)
class Variable:
    """One shrinkable integer: a top-level constant, or element ``index`` of a tuple/list constant."""

    name: str
    index: int | None
    value: int

    @property
    def label(self) -> str:
        return self.name if self.index is None else f"{self.name}[{self.index}]"


@dataclass
class ConstantTable:
    """The module's top-level constants in source order: values, which are literal, which derived."""

    order: list[str] = field(default_factory=list)
    exprs: dict[str, ast.expr] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    derived: set[str] = field(default_factory=set)
    """Constants whose expression reads other constants (evaluated again from new values)."""
    input_calls: list[list[ast.expr]] = field(default_factory=list)
    """Argument lists of the calls in ``get_inputs`` (``torch.rand(N, N)``): what input sizes are made of."""

    def input_elements(self, env: Mapping[str, Any]) -> int:
        """Elements of the tensors ``get_inputs`` makes, as far as their sizes are constants (static estimate)."""
        total = 0
        for args in self.input_calls:
            dims: list[int] = []
            for arg in args:
                node = arg.value if isinstance(arg, ast.Starred) else arg
                try:
                    value = _evaluate(node, env, set())
                except _NotConstant:
                    dims = []
                    break
                values = value if isinstance(value, list) else [value]
                if not all(_is_int(v) for v in values):
                    dims = []
                    break
                dims.extend(values)
            if dims:
                total += math.prod(dims)
        return total

    def variables(self) -> list[Variable]:
        out: list[Variable] = []
        for name in self.order:
            if name in self.derived:
                continue
            value = self.values[name]
            if _is_int(value):
                out.append(Variable(name, None, value))
            elif isinstance(value, list) and all(_is_int(v) for v in value):
                out.extend(Variable(name, i, v) for i, v in enumerate(value))
        return out

    def evaluate(self, assigned: Mapping[tuple[str, int | None], int]) -> dict[str, Any]:
        """Every constant's value with the literal variables replaced by ``assigned``."""
        env: dict[str, Any] = {}
        for name in self.order:
            if name in self.derived:
                env[name] = _evaluate(self.exprs[name], env, set())
                continue
            value = self.values[name]
            if isinstance(value, list):
                env[name] = [assigned.get((name, i), v) for i, v in enumerate(value)]
            else:
                env[name] = assigned.get((name, None), value)
        return env


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _assignments(body: list[ast.stmt]) -> list[tuple[str, ast.expr]]:
    """(name, expression) of each top-level ``NAME = expr``, ``NAME: T = expr``, name of a chained
    assignment (``height = width = 128``) and element of a tuple assignment with a literal tuple value
    (``depth, height, width = 32, 64, 64``)."""
    out: list[tuple[str, ast.expr]] = []
    for node in body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            out.extend((t.id, node.value) for t in node.targets)  # type: ignore[attr-defined]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out.append((node.target.id, node.value))
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Tuple | ast.List)
            and isinstance(node.value, ast.Tuple | ast.List)
            and len(node.targets[0].elts) == len(node.value.elts)
            and all(isinstance(t, ast.Name) for t in node.targets[0].elts)
        ):
            out.extend((t.id, v) for t, v in zip(node.targets[0].elts, node.value.elts, strict=True))  # type: ignore[attr-defined]
    return out


def constant_table(source: str) -> ConstantTable:
    """The top-level ``NAME = <literal expression>`` constants of ``source`` (``ShrinkError`` on bad syntax)."""
    tree = parse_or_raise(source, ShrinkError)
    table = ConstantTable()
    for name, expr in _assignments(tree.body):
        names: set[str] = set()
        try:
            value = _evaluate(expr, table.values, names)
        except _NotConstant:
            # not a constant (anymore): later expressions reading it are not constants either
            if name in table.values:
                table.order.remove(name)
                del table.values[name]
                table.derived.discard(name)
            continue
        if name in table.values:
            table.order.remove(name)
        table.order.append(name)
        table.exprs[name] = expr
        table.values[name] = value
        if names:
            table.derived.add(name)
        else:
            table.derived.discard(name)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "get_inputs":
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and call.args:
                    table.input_calls.append(list(call.args))
    return table


# -- proposals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """New values for the variables: the divisor used, the floor and the work estimate."""

    divisor: int
    floor: int
    work: int
    assigned: dict[tuple[str, int | None], int]


def _floor_for(var: Variable, floor: int) -> int:
    return BATCH_FLOOR if BATCH_NAME.search(var.name) and floor <= FLOOR else floor


def shrinkable(var: Variable, floor: int = FLOOR) -> bool:
    return not WINDOW_NAME.search(var.name) and var.value > _floor_for(var, floor)


def _shrunk(value: int, divisor: int, floor: int) -> int:
    new = max(min(value, floor), -(-value // divisor))
    if value % 2 == 1 and new % 2 == 0 and new + 1 <= value:
        new += 1  # odd sizes stay odd: they catch masking bugs that round sizes hide
    return new


def _work(table: ConstantTable, env: Mapping[str, Any]) -> int:
    work = 1
    for var in table.variables():
        if NOT_WORK_NAME.search(var.name):
            continue
        value = env[var.name] if var.index is None else env[var.name][var.index]
        if value >= 2:
            work *= value
    return work


def propose(table: ConstantTable, floor: int = FLOOR, budget: int = WORK_BUDGET, min_divisor: int = 1) -> Proposal:
    """The mildest power-of-two divisor (at least ``min_divisor``) whose work estimate fits ``budget``
    and leaves no size above ``MAX_DIM`` (or the floor everywhere)."""
    variables = table.variables()
    targets = [v for v in variables if shrinkable(v, floor)]
    divisor = max(1, min_divisor)
    previous: dict[tuple[str, int | None], int] | None = None
    while True:
        assigned = {(v.name, v.index): _shrunk(v.value, divisor, _floor_for(v, floor)) for v in targets}
        _keep_divisible(variables, assigned)
        env = table.evaluate(assigned)
        work = _work(table, env)
        fits = (
            work <= budget
            and all(value <= MAX_DIM for value in assigned.values())
            and table.input_elements(env) <= ELEMENT_TARGET // 2
        )
        if fits or assigned == previous or divisor > (1 << 40):
            return Proposal(divisor, floor, work, assigned)
        previous = assigned
        divisor *= 2


def _keep_divisible(variables: list[Variable], assigned: dict[tuple[str, int | None], int]) -> None:
    """Channel/feature/embedding sizes that a groups/heads constant divided still divide by its new value,
    with at least two per group when they had that many."""
    for d in variables:
        if not DIVISOR_NAME.search(d.name) or d.value < 2:
            continue
        d_new = assigned.get((d.name, d.index), d.value)
        for v in variables:
            key = (v.name, v.index)
            if v is d or key not in assigned or v.value % d.value != 0 or not DIVIDED_NAME.search(v.name):
                continue
            if assigned[key] % d_new:
                assigned[key] += d_new - assigned[key] % d_new
            if v.value >= 2 * d.value and assigned[key] < 2 * d_new:
                # at least two per group as written: one is degenerate (a group norm's output is noise)
                assigned[key] = 2 * d_new


def overrides_for(table: ConstantTable, proposal: Proposal) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The shape's constant overrides and the changed constants ``{name: [old, new]}``."""
    env = table.evaluate(proposal.assigned)
    overrides: dict[str, Any] = {}
    changed: dict[str, list[Any]] = {}
    for name in table.order:
        if env[name] != table.values[name]:
            overrides[name] = env[name]
            changed[name] = [table.values[name], env[name]]
    return overrides, changed


# -- checking -------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One proposal and what running the reference on it said."""

    overrides: dict[str, Any]
    divisor: int
    floor: int
    work: int
    ok: bool = False
    kind: str = ""
    """``error`` (failed to run), ``load`` (failed to load), ``degenerate``, ``too_large`` or ``ok``."""
    reason: str = ""
    reference_seconds: float | None = None
    elements: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, in order (JSON-ready)."""
        return asdict(self)


@dataclass
class ShrinkResult:
    """What the shrinker decided for one source.

    ``status``: ``ok`` (``params`` is the small shape: constant overrides, possibly empty when the
    source is already small), ``no_small_shape`` (no proposal ran within the limits: ``reason`` says
    why for each) or ``reference_failed`` (the reference does not load). ``changed`` maps every
    changed constant to ``[old, new]``.
    """

    status: Status
    params: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, list[Any]] = field(default_factory=dict)
    reason: str = ""
    reference_seconds: float | None = None
    elements: int | None = None
    seconds: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    source_sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Every field, in order (JSON-ready: the attempts as dicts, the seconds rounded)."""
        return {**asdict(self), "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShrinkResult:
        attempts = [Attempt(**a) for a in data.get("attempts", [])]
        return cls(
            status=str(data["status"]),
            params=dict(data.get("params") or {}),
            changed={k: list(v) for k, v in (data.get("changed") or {}).items()},
            reason=str(data.get("reason") or ""),
            reference_seconds=data.get("reference_seconds"),
            elements=data.get("elements"),
            seconds=float(data.get("seconds") or 0.0),
            attempts=attempts,
            source_sha256=str(data.get("source_sha256") or ""),
        )


RunFn = Callable[[str, dict[str, Any]], Attempt]
"""Runs the reference on overrides and fills an ``Attempt`` (replaceable in tests)."""


def _elements(value: Any) -> int:
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, list | tuple):
        return sum(_elements(v) for v in value)
    if isinstance(value, dict):
        return sum(_elements(v) for v in value.values())
    return 0


class SandboxRunner:
    """Runs a reference with ``verifier.prepare`` (sandboxed, CPU, one trial of one call).

    The forward's time is estimated as the prepare's wall time minus that of a trivial reference
    measured once (process start, torch import): a few tenths of a second of noise, enough to tell
    a one-second shape from a minute-long one.
    """

    def __init__(self, timeout_s: float = 120.0, memory_limit_mb: int = 6144, sandbox: str = "auto") -> None:
        self.timeout_s = timeout_s
        self.memory_limit_mb = memory_limit_mb
        self.sandbox = sandbox
        self._baseline: float | None = None

    def _options(self) -> Any:
        from verifier import VerifyOptions

        return VerifyOptions(
            device="cpu",
            trials=1,
            calls_per_trial=1,
            timeout_s=self.timeout_s,
            memory_limit_mb=self.memory_limit_mb,
            sandbox=self.sandbox,  # type: ignore[arg-type]
            measure=False,
        )

    def baseline(self) -> float:
        if self._baseline is None:
            import verifier

            trivial = (
                "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x + 1\n"
                "def get_inputs():\n    return [torch.rand(4)]\ndef get_init_inputs():\n    return []\n"
            )
            reference = verifier.Reference(source=trivial)
            # the first sandbox start of a process is slower (cold caches): the faster of two
            self._baseline = min(verifier.prepare(reference, self._options()).seconds for _ in range(2))
        return self._baseline

    def __call__(self, source: str, overrides: dict[str, Any]) -> Attempt:
        import verifier
        from verifier import VerifierInputError

        attempt = Attempt(overrides=dict(overrides), divisor=0, floor=0, work=0)
        reference = verifier.Reference(source=source, name="shrink", shapes={SHAPE_NAME: dict(overrides)})
        baseline = self.baseline()
        try:
            prepared = verifier.prepare(reference, self._options())
        except VerifierInputError as e:
            text = str(e)
            attempt.kind = "load" if "failed to load" in text or "not in KernelBench format" in text else "error"
            attempt.reason = _last_error_line(text)
            return attempt
        self._baseline = min(baseline, prepared.seconds)
        attempt.reference_seconds = round(max(0.0, prepared.seconds - baseline), 3)
        trial = prepared.trials[0]
        attempt.elements = _elements(trial.state) + sum(_elements(c.inputs) + _elements(c.outputs) for c in trial.calls)
        if prepared.degenerate:
            attempt.kind, attempt.reason = "degenerate", f"reference output degenerate: {prepared.degenerate}"
        elif attempt.elements > MAX_ELEMENTS:
            attempt.kind = "too_large"
            attempt.reason = (
                f"too large for the CPU interpreter: {attempt.elements} elements in inputs, parameters and "
                f"outputs (limit {MAX_ELEMENTS}); reference ~{attempt.reference_seconds:.1f} s"
            )
        else:
            attempt.kind, attempt.ok = "ok", True
        return attempt


def _last_error_line(text: str) -> str:
    """The verifier's first line plus the exception line of its traceback, on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "the reference failed"
    head = lines[0]
    tail = next((line for line in reversed(lines[1:]) if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)), "")
    return (head if not tail or tail in head else f"{head} [{tail}]")[:400]


FLOORS = (FLOOR, 16, 32, 64)
"""Floors tried in turn when a shape fails to run or is degenerate (windows that no longer fit)."""
MAX_ATTEMPTS = 8


def _jump(attempt: Attempt) -> int:
    """How many times to halve again a shape that is valid but above the target (at least once)."""
    ratio = max((attempt.elements or 0) / ELEMENT_TARGET, 2.0)
    return max(1, math.ceil(math.log2(ratio) / 2))


def shrink(source: str, run: RunFn | None = None) -> ShrinkResult:
    """Choose and check the small shape of a KernelBench-format ``source`` (see the module docstring)."""
    from verifier.spec import sha256_text

    started = time.monotonic()
    result = ShrinkResult(status="no_small_shape", source_sha256=sha256_text(source))
    try:
        table = constant_table(source)
    except ShrinkError as e:
        result.status, result.reason = "reference_failed", str(e)
        result.seconds = time.monotonic() - started
        return result
    runner = run or SandboxRunner()
    tried: set[str] = set()
    floors = list(FLOORS)
    floor, min_divisor = floors.pop(0), 1
    valid: list[tuple[Attempt, dict[str, list[Any]]]] = []
    while len(result.attempts) < MAX_ATTEMPTS:
        proposal = propose(table, floor=floor, min_divisor=min_divisor)
        overrides, changed = overrides_for(table, proposal)
        key = repr(sorted(overrides.items()))
        if key in tried:  # nothing new to try with this floor
            if valid or not floors or result.attempts[-1].kind == "too_large":
                break  # a larger floor would only be larger
            floor, min_divisor = floors.pop(0), 1
            continue
        tried.add(key)
        attempt = runner(source, overrides)
        attempt.divisor, attempt.floor, attempt.work = proposal.divisor, proposal.floor, proposal.work
        result.attempts.append(attempt)
        if attempt.kind == "load":
            result.status, result.reason = "reference_failed", attempt.reason
            break
        if attempt.ok:
            valid.append((attempt, changed))
            if (attempt.elements or 0) <= ELEMENT_TARGET:
                break
            min_divisor = proposal.divisor * 2 ** _jump(attempt)  # valid, but a kernel would be slow: smaller
        elif attempt.kind == "too_large":
            min_divisor = proposal.divisor * 2 ** _jump(attempt)
        else:  # failed to run or degenerate: a larger floor (a window that no longer fits the input)
            if valid or not floors:
                break
            floor = floors.pop(0)
    if valid and result.status != "reference_failed":
        attempt, changed = min(valid, key=lambda pair: pair[0].elements or 0)
        result.status, result.params, result.changed = "ok", dict(attempt.overrides), changed
        result.reference_seconds, result.elements = attempt.reference_seconds, attempt.elements
        result.reason = _describe(changed)
        if (attempt.elements or 0) > ELEMENT_TARGET:
            result.reason += (
                f" (still {attempt.elements} elements, above the {ELEMENT_TARGET} target: "
                "nothing left to shrink among the top-level constants)"
            )
    elif result.status != "reference_failed":
        reasons = "; ".join(f"{_describe(a.overrides, short=True)}: {a.reason}" for a in result.attempts)
        result.reason = f"no valid small shape ({len(result.attempts)} tried): {reasons}"[:2000]
    result.seconds = time.monotonic() - started
    return result


def _describe(changed: Mapping[str, Any], short: bool = False) -> str:
    if not changed:
        return "as written" if short else "already small: run as written"
    parts = []
    for name, value in changed.items():
        if short:
            parts.append(f"{name}={value}")
        else:
            old, new = value
            parts.append(f"{name} {old} -> {new}")
    return ", ".join(parts)


def small_shape_note(result: ShrinkResult) -> str:
    """A one-line note for the shape's ``note`` field."""
    return f"automatic small tier: {_describe(result.changed)}"[:300]


def divisors_kept(table: ConstantTable, overrides: Mapping[str, Any]) -> bool:
    """True when every size divisible by a groups/heads constant still is (a check for tests)."""
    env = {**table.values, **overrides}
    variables = table.variables()
    for d in variables:
        if not DIVISOR_NAME.search(d.name) or d.value < 2:
            continue
        d_new = env[d.name] if d.index is None else env[d.name][d.index]
        for v in variables:
            if v is d or v.value % d.value:
                continue
            v_new = env[v.name] if v.index is None else env[v.name][v.index]
            if v_new % d_new:
                return False
    return True
