"""`kiln generate`: the generation loop without the service (docs/cli.md).

Exit codes: 0 a verified kernel was found, 1 none was, 2 bad invocation (unknown task id,
unreadable reference, LLM proposer without a model configured, bad options).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli.common import device_option, failer, join_interruptibly, read_source, require_sandbox
from service.cli.options import REFERENCE_OPTION, Device, Timeout

EXIT_FOUND, EXIT_NONE, EXIT_BAD_INPUT = 0, 1, 2
CANCELLING = "\ncancelling (finishing the candidate being verified)..."


_fail = failer("generate", EXIT_BAD_INPUT)


def _device(choice: str) -> str:
    return device_option(choice, _fail)


def _reference(task: str | None, reference: Path | None, device: str) -> Any:
    from verifier import Reference

    if (task is None) == (reference is None):
        _fail("give exactly one of --task ID or --reference REF.py")
    if task is not None:
        import agents
        import tasks

        try:
            return agents.reference_for_task(task, device)
        except tasks.UnknownTaskError as e:
            _fail(str(e).strip("'\""))
    assert reference is not None
    return Reference(source=read_source(reference, "reference", _fail), name=reference.stem)


class _Progress:
    """Terminal progress from generation events (stderr, so --json output stays clean)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status: Any = None

    def __enter__(self) -> _Progress:
        self.status = self.console.status("preparing...")
        self.status.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.status.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        name = event.get("name") or ""
        if kind == "started":
            self.status.update(f"{event.get('proposer')} proposer: recognising / preparing the reference...")
        elif kind == "round":
            self.status.update(f"LLM round {event.get('round')}: {len(event.get('jobs', []))} sample(s)...")
        elif kind == "proposed":
            self.status.update(f"verifying {name}...")
        elif kind == "verified":
            verdict = str(event.get("verdict"))
            colour = {"accepted": "green", "rejected": "red"}.get(verdict, "yellow")
            speed = event.get("speedup")
            extra = f", {speed:.2f}x over eager" if isinstance(speed, int | float) else ""
            reason = "" if verdict == "accepted" else f": {(event.get('reasons') or [''])[0][:160]}"
            self.console.print(f"  [{colour}]{verdict}[/{colour}] {name}{extra}{reason}", highlight=False)
        elif kind == "best":
            self.console.print(f"  [bold]new best[/bold]: {name}", highlight=False)
        elif kind in ("error", "note"):
            self.console.print(f"  [yellow]{kind}[/yellow]: {str(event.get('message', ''))[:400]}", highlight=False)


def generate(
    task: str | None = typer.Option(None, "--task", "-t", help="Task id (see `kiln tasks list`)."),
    reference: Annotated[Path | None, REFERENCE_OPTION] = None,
    proposer: str = typer.Option("template", "--proposer", help="template | llm"),
    language: str = typer.Option("triton", "--language", help="triton | cuda"),
    budget: int = typer.Option(8, "--budget", help="Most candidates to verify."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the best kernel's source here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    device: Device = "auto",
    timeout: Timeout = 180.0,
    trials: int = typer.Option(3, "--trials", help="Correctness trials per candidate."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Wall-clock budget of the job (s)."),
    max_tokens: int | None = typer.Option(200_000, "--max-tokens", help="LLM token budget."),
    model: str | None = typer.Option(None, "--model", help="LLM model (default: KILN_LLM_MODEL)."),
    samples: int = typer.Option(4, "--samples", help="LLM samples per round."),
    rounds: int = typer.Option(4, "--rounds", help="LLM rounds."),
    template_seed: bool = typer.Option(
        True,
        "--template-seed/--no-template-seed",
        help="LLM proposer: verify the template compiler's kernel first and offer it to the model as a start.",
    ),
    retries: int = typer.Option(3, "--retries", min=0, help="LLM: retries of a failed request (429, 5xx, timeouts)."),
    stream: bool = typer.Option(False, "--stream", help="LLM: stream every completion (server-sent events)."),
    mode: str = typer.Option(
        "forward",
        "--mode",
        help="forward | backward (a training kernel: the template compiler emits the op's forward and backward "
        "in one torch.autograd.Function) | both",
    ),
) -> None:
    """Generate a verified kernel for a task or a reference. Exit 0 found, 1 none found, 2 bad input."""
    import agents
    from verifier import VerifyOptions

    if proposer not in ("template", "llm"):
        _fail(f"--proposer must be template or llm, not {proposer!r}")
    if language not in ("triton", "cuda"):
        _fail(f"--language must be triton or cuda, not {language!r}")
    resolved_device = _device(device)
    require_sandbox(_fail, device=resolved_device)
    ref = _reference(task, reference, resolved_device)
    llm_model = model or agents.types.default_model()
    if proposer == "llm" and not llm_model:
        _fail("the LLM proposer needs a model: set KILN_LLM_MODEL or pass --model")
    try:
        request = agents.GenerationRequest(
            reference=ref,
            task_id=task,
            language=language,  # type: ignore[arg-type]
            proposer=proposer,  # type: ignore[arg-type]
            budget=agents.Budget(max_candidates=budget, max_tokens=max_tokens, max_seconds=max_seconds),
            verify_options=VerifyOptions(
                device=resolved_device,  # type: ignore[arg-type]
                timeout_s=timeout,
                trials=trials,
                mode=mode,  # type: ignore[arg-type]
            ),
            model=llm_model,
            samples_per_round=samples,
            rounds=rounds,
            seed_with_template=template_seed,
            max_retries=retries,
            stream=stream,
        )
    except ValueError as e:
        _fail(str(e))

    cancel = threading.Event()
    result = _run(agents.generate, request, cancel, progress=not as_json or sys.stderr.isatty())

    if out is not None and result.best is not None:
        out.write_text(result.best.source, encoding="utf-8")
        typer.echo(f"wrote the verified kernel to {out}", err=True)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        _print_summary(result)
    raise typer.Exit(EXIT_FOUND if result.best is not None else EXIT_NONE)


def _run(run_generate: Any, request: Any, cancel: threading.Event, progress: bool) -> Any:
    """Run the job in a thread so that Ctrl-C cancels it and still returns what was verified."""
    box: dict[str, Any] = {}

    def target(on_event: Any) -> None:
        box["result"] = run_generate(request, on_event=on_event, cancel=cancel)

    if progress:
        with _Progress() as sink:
            join_interruptibly(threading.Thread(target=target, args=(sink,), daemon=True), cancel, CANCELLING)
    else:
        join_interruptibly(threading.Thread(target=target, args=(None,), daemon=True), cancel, CANCELLING)
    if "result" not in box:
        typer.echo("kiln generate: the job ended without a result", err=True)
        raise typer.Exit(EXIT_NONE)
    return box["result"]


def _print_summary(result: Any) -> None:
    accepted = sum(c.report.accepted for c in result.candidates)
    typer.echo(
        f"{len(result.candidates)} candidate(s) verified, {accepted} accepted; stopped: {result.stopped_because}; "
        f"{result.prompt_tokens + result.completion_tokens} LLM tokens; {result.seconds:.1f} s"
    )
    for error in result.errors[:5]:
        typer.echo(f"  - {error[:400]}")
    if result.best is not None:
        typer.echo(f"best: {result.best.name} ({result.best.origin}, sha256 {result.best.sha256[:12]})")
        typer.echo(result.best.report.summary())


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
