"""`kiln profile`: a Triton candidate's static GPU profile, estimated without a GPU (docs/cli.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from service.cli.common import failer, verify_files
from service.cli.options import ReferenceFile, Timeout

EXIT_PROFILED, EXIT_NOT_PROFILED, EXIT_BAD_INPUT = 0, 1, 2

_fail = failer("profile", EXIT_BAD_INPUT)


def profile(
    reference: ReferenceFile,
    candidate: Path = typer.Option(..., "--candidate", "-c", help="Triton candidate source defining ModelNew."),
    gpu_arch: int = typer.Option(90, "--gpu-arch", help="GPU target the kernels are built for (sm_<N>)."),
    timeout: Timeout = 180.0,
    as_json: bool = typer.Option(False, "--json", help="Print the verdict and the static_profile as JSON."),
    sandbox: str = typer.Option("auto", "--sandbox", help="auto | docker | bwrap | unshare | none"),
    trusted_code: bool = typer.Option(False, "--trusted-code", help="Allows --sandbox none."),
) -> None:
    """Verify CANDIDATE on the CPU (Triton interpreter) and print its static GPU profile: registers,
    spills, shared memory, occupancy, tensor cores, requested bytes against the compulsory ones, sector
    efficiency. An estimate, never a timing. Exit 0 accepted and profiled, 1 not, 2 bad input."""
    from verifier import VerifyOptions
    from verifier.plan.profile import describe

    try:
        options = VerifyOptions(
            device="cpu",
            timeout_s=timeout,
            trials=1,
            calls_per_trial=1,
            gpu_arch=gpu_arch,
            sandbox=sandbox,  # type: ignore[arg-type]
            trusted_code=trusted_code,
        )
    except ValueError as e:
        _fail(str(e))
    report = verify_files(reference, candidate, options, _fail, quiet=as_json)
    profiled = report.accepted and bool(report.static_profile)
    if as_json:
        body = {"verdict": report.verdict, "reasons": report.reasons, "static_profile": report.static_profile}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        typer.echo(f"verdict: {report.verdict}" + "".join(f"\n  - {r}" for r in report.reasons))
        typer.echo("\n".join(describe(report.static_profile)))
    raise typer.Exit(EXIT_PROFILED if profiled else EXIT_NOT_PROFILED)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
