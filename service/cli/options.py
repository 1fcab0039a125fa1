"""Options that several ``kiln`` commands declare the same way, as typer ``Annotated`` types.

A command names the type and gives its default after ``=`` (``timeout: Timeout = 180.0``); a required
option has no default (``reference: ReferenceFile``). Typer copies the option for every parameter, so
one definition serves every command. Light on purpose (typer only at import), like ``common``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

REFERENCE_OPTION = typer.Option("--reference", "-r", help="Reference op in KernelBench format.")
"""``--reference REF.py``: also for a command where it is optional (``Annotated[Path | None, REFERENCE_OPTION]``)."""

ReferenceFile = Annotated[Path, REFERENCE_OPTION]
Timeout = Annotated[float, typer.Option("--timeout", help="Wall-clock limit per sandbox process (s).")]
Device = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
