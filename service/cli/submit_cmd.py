"""`kiln submit`: send a reference (or a task id) to a Kernel Kiln server and follow the job."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from service.cli.common import failer
from service.text import markup_safe, printable

EXIT_OK, EXIT_NO_KERNEL, EXIT_BAD = 0, 1, 2


_fail = failer("submit", EXIT_BAD)


def submit(
    reference: Path | None = typer.Argument(None, help="Reference op in KernelBench format (or use --task)."),
    task: str | None = typer.Option(
        None, "--task", help="A task id the server knows: built-in (`kiln tasks list`) or in its store (kb.level1.*)."
    ),
    server: str = typer.Option(
        None, "--server", help="Server URL (default: KILN_SERVER_URL or http://127.0.0.1:8000)."
    ),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Follow the job and print the kernel."),
    token: str | None = typer.Option(None, "--token", help="Bearer token (default: KILN_API_TOKEN)."),
    language: str = typer.Option("triton", "--language", help="triton | cuda"),
    proposer: str = typer.Option("template", "--proposer", help="template | llm"),
    budget: int = typer.Option(8, "--budget", help="Most candidates to verify."),
    model: str | None = typer.Option(None, "--model", help="LLM model (default: the server's KILN_LLM_MODEL)."),
    template_seed: bool = typer.Option(
        True,
        "--template-seed/--no-template-seed",
        help="LLM proposer: verify the template compiler's kernel first and offer it to the model as a start.",
    ),
    mode: str = typer.Option(
        "forward",
        "--mode",
        help="forward | backward (a training kernel: a torch.autograd.Function, gradients checked) | both",
    ),
    out: Path | None = typer.Option(None, "--out", help="With --wait: write the kernel's source here."),
    as_json: bool = typer.Option(False, "--json", help="Print the final job as JSON."),
) -> None:
    """Submit a generation job; with --wait, show progress and print the verified kernel and its report."""
    from service.client import DEFAULT_SERVER, KilnClient, KilnClientError

    if (reference is None) == (task is None):
        _fail("give a reference file or --task ID (exactly one)")
    source = None
    if reference is not None:
        try:
            source = reference.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            _fail(f"cannot read {reference}: {e}")
    url = server or os.environ.get("KILN_SERVER_URL") or DEFAULT_SERVER
    with KilnClient(url, token or os.environ.get("KILN_API_TOKEN")) as client:
        try:
            job = client.submit(
                task_id=task,
                reference_source=source,
                language=language,
                proposer=proposer,
                budget=budget,
                model=model,
                template_seed=None if template_seed else False,  # the server's default is on
                mode=None if mode == "forward" else mode,  # the server's default; it checks the value
            )
        except KilnClientError as e:
            _fail(str(e))
        queued = f"job {printable(job['id'])} queued for {printable(job['task_id'])}"
        typer.echo(f"{queued} ({proposer}, {language}, {printable(mode)}, budget {budget})", err=True)
        if not wait:
            typer.echo(json.dumps(job, indent=2, default=str) if as_json else job["id"])
            raise typer.Exit(EXIT_OK)
        try:
            _follow(client, job["id"])
            final = client.job(job["id"])
        except KilnClientError as e:
            _fail(str(e))
        except KeyboardInterrupt:
            client.cancel(job["id"])
            typer.echo(f"\ncancel requested for job {job['id']}", err=True)
            raise typer.Exit(130) from None
    _print_result(final, out, as_json)
    raise typer.Exit(EXIT_OK if final["status"] == "succeeded" else EXIT_NO_KERNEL)


def _follow(client: Any, job_id: str) -> None:
    """Print the job's events as they come: every string from the server with its control characters
    and rich markup escaped (``service.text.markup_safe``), so no event can drive the terminal."""
    from rich.console import Console

    escape = markup_safe
    console = Console(stderr=True)
    told: set[str] = set()

    def waiting(reason: object) -> None:
        """Say once why the job waits (the server repeats it on every change)."""
        if isinstance(reason, str) and reason and reason not in told:
            told.add(reason)
            console.print(f"  [yellow]waiting[/yellow]: {escape(reason)}", soft_wrap=True)

    with console.status("waiting for a worker...") as spinner:
        for event in client.events(job_id):
            data = event.data if isinstance(event.data, dict) else {}
            if event.type == "status":
                spinner.update(f"job {escape(data.get('status'))}...")
                waiting(data.get("waiting"))
            elif event.type == "waiting":
                waiting(data.get("reason"))
                spinner.update("queued: waiting for the executor...")
            elif event.type == "requeued":
                reason = escape(str(data.get("reason", "")))
                console.print(f"  [yellow]back to the queue[/yellow]: {reason}", soft_wrap=True)
                told.clear()
            elif event.type == "started":
                spinner.update("generating candidates...")
            elif event.type == "proposed":
                spinner.update(
                    f"verifying {escape(data.get('origin', 'candidate'))} {escape(data.get('name') or '')}".rstrip()
                )
            elif event.type == "verified":
                verdict = escape(data.get("verdict", "?"))
                colour = {"accepted": "green", "rejected": "red"}.get(verdict, "yellow")
                speed = data.get("speedup")
                extra = f", {speed:.2f}x over eager" if isinstance(speed, (int, float)) else ""
                reason = "" if verdict == "accepted" else f": {escape(str((data.get('reasons') or [''])[0])[:160])}"
                who = f"{escape(data.get('origin', ''))} {escape(data.get('name') or '')}"
                console.print(f"  [{colour}]{verdict}[/{colour}] {who}{extra}{reason}")
            elif event.type == "best":
                console.print(
                    f"  [bold]new best[/bold]: {escape(data.get('origin', ''))} {escape(data.get('name') or '')}"
                )
            elif event.type == "error":
                console.print(f"  [yellow]error[/yellow]: {escape(data.get('message') or data)}")
            elif event.type == "progress":
                spinner.update(
                    f"{escape(data.get('verified', 0))} verified, {escape(data.get('accepted', 0))} accepted"
                )
            elif event.type == "finished":
                return


def _print_result(job: dict[str, Any], out: Path | None, as_json: bool) -> None:
    best = job.get("best")
    if as_json:
        typer.echo(json.dumps(job, indent=2, default=str))
    if best is None:
        if not as_json:
            why = printable(job.get("error") or "no verified kernel")
            typer.echo(f"job {printable(job['id'])} {printable(job['status'])}: {why}")
        return
    if out is not None:
        out.write_text(best["source"], encoding="utf-8")
        typer.echo(f"wrote the verified kernel to {out}", err=True)
    if not as_json:
        from verifier.report import Report

        if out is None:
            typer.echo(printable(best["source"], keep="\n\t"))
        if best.get("report"):
            typer.echo(printable(Report.from_dict(best["report"]).summary(), keep="\n"))
            where = best["report"].get("placement") or {}
            if where.get("executor"):
                node = f", node {str(where['node_id'])[:12]}" if where.get("node_id") else ""
                gpu = f", {where['gpu']}" if where.get("gpu") else ""
                place = f"the {where['executor']} executor on {where.get('hostname')}{node}{gpu}"
                typer.echo(f"verified by {printable(place)}")


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
