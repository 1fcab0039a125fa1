"""The `kiln` command line: one Typer app; each command group lives in its own module.

Command modules import their heavy dependencies inside the command functions, so `kiln verify`
works on a GPU host that has only torch, triton and this package's small CLI dependencies.
"""

from __future__ import annotations

import typer

from service.cli import (
    bench_cmd,
    compile_cmd,
    db_cmd,
    generate_cmd,
    pack_cmd,
    profile_cmd,
    regress_cmd,
    serve_cmd,
    store_cmd,
    submit_cmd,
    tasks_cmd,
    verify_cmd,
)

app = typer.Typer(
    name="kiln",
    help="Kernel Kiln: generate and verify Triton/CUDA kernels for PyTorch ops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Kernel Kiln: generate and verify Triton/CUDA kernels for PyTorch ops."""
    from service import astlock

    astlock.install()  # commands that verify on several threads (bench --workers) parse safely (gh-106905)


verify_cmd.register(app)
profile_cmd.register(app)
tasks_cmd.register(app)
generate_cmd.register(app)
db_cmd.register(app)
store_cmd.register(app)
serve_cmd.register(app)
submit_cmd.register(app)
regress_cmd.register(app)
bench_cmd.register(app)
compile_cmd.register(app)
pack_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
