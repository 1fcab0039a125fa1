"""The task suite's data model: a ``Task`` (reference op + metadata) and its named ``Shape`` configurations."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from verifier.spec import Reference, Tolerance, sha256_text
from verifier.tolerance import DEFAULT_TOLERANCES as _VERIFIER_DEFAULTS

Tier = Literal["small", "realistic"]
TIERS: tuple[str, ...] = ("small", "realistic")
"""``small``: verifies under the CPU Triton interpreter in seconds. ``realistic``: the papers' shapes (GPU)."""

TASK_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*)+$")
"""Task ids: ``<family>.<name>`` in lower snake case (KernelBench imports: ``kb.level1.<name>``)."""

DEFAULT_TOLERANCES: Mapping[str, Tolerance] = MappingProxyType(dict(_VERIFIER_DEFAULTS))
"""The verifier's default bound per dtype name (float32 admits tf32 tensor-core dots on a GPU)."""

ParamFn = Callable[[Mapping[str, Any]], float]


class TaskError(ValueError):
    """A task definition is inconsistent (bad id, unknown constant in a shape, missing tier...)."""


class NoShapesError(TaskError):
    """The task declares no shape in the requested tier."""


@dataclass(frozen=True)
class Shape:
    """A named shape configuration: overrides of the reference module's top-level constants.

    ``params`` must be JSON-like (int, float, str, bool, lists); the verifier assigns them on the
    loaded module before calling ``get_init_inputs``/``get_inputs``. ``note`` says where the shape
    comes from (network, stage, dataset).
    """

    name: str
    params: Mapping[str, Any]
    tier: Tier
    note: str = ""

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise TaskError(f"shape {self.name!r}: tier must be one of {TIERS}, not {self.tier!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", self.name):
            raise TaskError(f"shape name {self.name!r} must be lower snake case")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tier": self.tier, "params": dict(self.params), "note": self.note}


@dataclass(frozen=True)
class Task:
    """A reference op with everything needed to verify and rank kernels for it.

    ``source`` is a KernelBench-format module whose constants as written are ``constants`` (the
    task's first small shape, for our own tasks). ``flops``/``min_bytes`` are functions of a shape's
    full parameters (``task.params(shape)``); ``tensor_flops`` is the part of ``flops`` that is
    matrix-multiply work a tensor core can do. They are None for imported KernelBench problems.
    """

    id: str
    family: str
    title: str
    description: str
    source: str
    shapes: tuple[Shape, ...]
    constants: Mapping[str, Any] = field(default_factory=dict)
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    allowed_ops: frozenset[str] = frozenset()
    flops: ParamFn | None = None
    min_bytes: ParamFn | None = None
    tensor_flops: ParamFn | None = None
    flops_note: str = ""
    dtype_param: str = "DTYPE"
    references: tuple[str, ...] = ()
    origin: str = "builtin"
    """``builtin`` for the suite's own tasks, else where it was loaded from (a file path)."""

    def __post_init__(self) -> None:
        if not TASK_ID_PATTERN.match(self.id):
            raise TaskError(f"task id {self.id!r} does not match {TASK_ID_PATTERN.pattern}")
        if not self.shapes:
            raise TaskError(f"task {self.id}: at least one shape is required")
        names = [s.name for s in self.shapes]
        if len(set(names)) != len(names):
            raise TaskError(f"task {self.id}: duplicate shape names in {names}")
        for s in self.shapes:
            unknown = sorted(set(s.params) - set(self.constants))
            if unknown:
                raise TaskError(
                    f"task {self.id}, shape {s.name}: {', '.join(unknown)} not top-level constants "
                    "of the reference module"
                )
        object.__setattr__(self, "constants", MappingProxyType(dict(self.constants)))
        object.__setattr__(self, "tolerances", MappingProxyType(dict(self.tolerances)))
        object.__setattr__(self, "allowed_ops", frozenset(self.allowed_ops))

    # -- shapes ---------------------------------------------------------------------------------
    def shape(self, name: str) -> Shape:
        for s in self.shapes:
            if s.name == name:
                return s
        raise KeyError(f"task {self.id} has no shape {name!r}; shapes: {', '.join(self.shape_names())}")

    def shape_names(self, tier: Tier | None = None) -> list[str]:
        return [s.name for s in self.shapes_in(tier)]

    def shapes_in(self, tier: Tier | Literal["all"] | None = None) -> list[Shape]:
        """The shapes of one tier (``None`` or ``"all"``: every shape, small ones first as declared)."""
        if tier in (None, "all"):
            return list(self.shapes)
        if tier not in TIERS:
            raise TaskError(f"tier must be one of {(*TIERS, 'all')}, not {tier!r}")
        return [s for s in self.shapes if s.tier == tier]

    def tiers(self) -> list[str]:
        return [t for t in TIERS if any(s.tier == t for s in self.shapes)]

    def params(self, shape: Shape | str) -> dict[str, Any]:
        """Every constant of the module under ``shape``: the source's constants with its overrides."""
        s = self.shape(shape) if isinstance(shape, str) else shape
        return {**self.constants, **s.params}

    def dtype(self, shape: Shape | str) -> str | None:
        """The dtype name a shape runs in (its ``DTYPE`` constant), or None when the task has none."""
        value = self.params(shape).get(self.dtype_param)
        return value if isinstance(value, str) else None

    def dtypes(self) -> list[str]:
        seen: list[str] = []
        for s in self.shapes:
            d = self.dtype(s)
            if d is not None and d not in seen:
                seen.append(d)
        return seen

    # -- verifier -------------------------------------------------------------------------------
    def reference(self, tier: Tier | Literal["all"] = "small", shapes: Sequence[str] | None = None) -> Reference:
        """The ``verifier.Reference`` for this task on one tier's named shapes (or the named ``shapes``).

        Each named configuration carries the shape's overrides (``shape.params``; the built-in shapes
        name every size and dtype constant). Raises ``NoShapesError``
        when the tier is empty (imported KernelBench problems have only ``realistic`` "as written").
        """
        chosen = [self.shape(n) for n in shapes] if shapes is not None else self.shapes_in(tier)
        if not chosen:
            raise NoShapesError(f"task {self.id} has no {tier} shapes; tiers: {', '.join(self.tiers()) or 'none'}")
        return Reference(
            source=self.source,
            name=self.id,
            shapes={s.name: dict(s.params) for s in chosen},
            tolerances=dict(self.tolerances),
            allowed_ops=self.allowed_ops,
        )

    def reference_on(self, device: str) -> Reference:
        """The ``verifier.Reference`` a kernel for this task is generated and verified with on ``device``.

        CPU: the small tier (the Triton interpreter verifies it in seconds; nothing is timed), or the
        realistic one when there is no small tier. GPU (``cuda``): the realistic shapes first, then the
        small ones. The verifier times the first shape, so speedups are measured at a paper's shape,
        while the small odd shapes still catch masking bugs.
        """
        if device == "cuda":
            return self.reference(shapes=self.shape_names("realistic") + self.shape_names("small"))
        return self.reference(tier="small" if self.shapes_in("small") else "realistic")

    def tolerance(self, dtype: str) -> Tolerance:
        """The bound for outputs of ``dtype``: the task's own, else the verifier's default."""
        if dtype in self.tolerances:
            return self.tolerances[dtype]
        if dtype in DEFAULT_TOLERANCES:
            return DEFAULT_TOLERANCES[dtype]
        raise KeyError(f"no tolerance for dtype {dtype!r}")

    @property
    def sha256(self) -> str:
        return sha256_text(self.source)

    @property
    def has_cost_model(self) -> bool:
        return self.flops is not None and self.min_bytes is not None

    def to_dict(self, include_source: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "family": self.family,
            "title": self.title,
            "description": self.description,
            "origin": self.origin,
            "dtypes": self.dtypes(),
            "tiers": self.tiers(),
            "shapes": [s.to_dict() for s in self.shapes],
            "constants": dict(self.constants),
            "tolerances": {k: v.to_dict() for k, v in self.tolerances.items()},
            "allowed_ops": sorted(self.allowed_ops),
            "flops_note": self.flops_note,
            "references": list(self.references),
            "source_sha256": self.sha256,
        }
        if include_source:
            out["source"] = self.source
        return out
