"""Assemble a built-in ``Task`` from a packaged reference template, its shapes and its cost model."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Required, TypedDict, Unpack

from tasks.model import DEFAULT_TOLERANCES, ParamFn, Shape, Task, TaskError
from tasks.source import module_constants, read_packaged_source, render_source
from verifier.spec import Tolerance

_FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


class Costs(TypedDict, total=False):
    """What a built-in task's definition hands to its ``Task`` as it is: its cost model (rooflines) and
    the ops it allows beyond the defaults."""

    flops: Required[ParamFn]
    min_bytes: Required[ParamFn]
    tensor_flops: ParamFn | None
    flops_note: str
    allowed_ops: frozenset[str]


def define_task(
    *,
    id: str,
    title: str,
    description: str,
    shapes: Sequence[Shape],
    template: str | None = None,
    tolerances: Mapping[str, Tolerance] | None = None,
    references: Sequence[str] = (),
    **costs: Unpack[Costs],
) -> Task:
    """A task whose source is ``tasks/sources/<template>`` with its first small shape written in.

    The family is the id's first part; the template defaults to the id with ``_`` for ``.``
    (``conv1d.long_causal``: ``conv1d_long_causal.py``). ``tolerances`` override the defaults per
    dtype; the task records a bound for every float dtype.
    """
    template = template or id.replace(".", "_") + ".py"
    small = [s for s in shapes if s.tier == "small"]
    if not small:
        raise TaskError(f"task {id}: at least one small shape is required")
    raw = read_packaged_source(template)
    known = module_constants(raw)
    for s in shapes:
        unknown = sorted(set(s.params) - set(known))
        if unknown:
            raise TaskError(f"task {id}, shape {s.name}: unknown constants {', '.join(unknown)}")
    as_written = dict(small[0].params)
    description = reflow(description)
    docstring = "\n\n".join(
        [
            f"{id}: {title}",
            *(textwrap.fill(par, width=100) for par in description.split("\n\n")),
            textwrap.fill(
                f"As written: shape {small[0].name!r}. Other shapes override the constants below; "
                f"see `kiln tasks show {id}`.",
                width=100,
            ),
        ]
    )
    source = render_source(raw, as_written, docstring=docstring)
    return Task(
        id=id,
        family=id.partition(".")[0],
        title=title,
        description=description,
        source=source,
        shapes=tuple(shapes),
        constants=module_constants(source),
        tolerances={
            **{k: v for k, v in DEFAULT_TOLERANCES.items() if k in _FLOAT_DTYPES},
            **(tolerances or {}),
        },
        references=tuple(references),
        **costs,
    )


def reflow(text: str) -> str:
    """Paragraphs (blank-line separated) each joined into one line: descriptions are data, not layout."""
    paragraphs = textwrap.dedent(text).strip().split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


DTYPE_BYTES: Mapping[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}


def dtype_bytes(name: Any) -> int:
    """Bytes per element of a torch dtype given by name (``"bfloat16"`` -> 2)."""
    try:
        return DTYPE_BYTES[str(name)]
    except KeyError:
        raise TaskError(f"unknown dtype name {name!r}") from None
