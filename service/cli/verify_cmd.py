"""`kiln verify`: verify one candidate kernel against one reference op (docs/cli.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from service.cli.common import failer, verify_files
from service.cli.options import Device, ReferenceFile, Timeout

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_BAD_INPUT = 0, 1, 2


_fail = failer("verify", EXIT_BAD_INPUT)


def verify(
    reference: ReferenceFile,
    candidate: Path = typer.Option(..., "--candidate", "-c", help="Candidate source defining ModelNew."),
    timeout: Timeout = 180.0,
    device: Device = "auto",
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a summary."),
    trials: int | None = typer.Option(
        None, "--trials", help="ModelNew instances, each with fresh parameters (default: 3 on a GPU, 1 on a CPU)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Base seed to reproduce a run (default: fresh)."),
    sandbox: str = typer.Option(
        "auto", "--sandbox", help="auto | docker | bwrap | unshare | none (none needs --trusted-code)"
    ),
    image: str | None = typer.Option(
        None,
        "--image",
        envvar="KILN_SANDBOX_IMAGE",
        help="Worker image of the docker sandbox (default kernelkiln/worker:cpu; naming one lets auto pick docker).",
    ),
    trusted_code: bool = typer.Option(
        False, "--trusted-code", help="The candidate is trusted code: allows --sandbox none (no OS isolation)."
    ),
    memory_mb: int = typer.Option(8192, "--memory-mb", help="Memory limit per sandbox process (MiB)."),
    mode: str = typer.Option(
        "forward",
        "--mode",
        help="forward | backward (a training step: outputs and every gradient, the candidate's "
        "torch.autograd.Function launching the backward kernels) | both",
    ),
) -> None:
    """Verify CANDIDATE against REFERENCE. Exit 0 accepted, 1 rejected or not run, 2 bad input."""
    from verifier import VerifyOptions

    try:
        options = VerifyOptions(
            device=device,  # type: ignore[arg-type]
            timeout_s=timeout,
            trials=trials,
            seed=seed,
            sandbox=sandbox,  # type: ignore[arg-type]
            sandbox_image=image,
            memory_limit_mb=memory_mb,
            trusted_code=trusted_code,
            mode=mode,  # type: ignore[arg-type]
        )
    except ValueError as e:
        _fail(str(e))

    report = verify_files(reference, candidate, options, _fail, quiet=as_json)

    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        typer.echo(report.summary())
    raise typer.Exit(EXIT_ACCEPTED if report.accepted else EXIT_REJECTED)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
