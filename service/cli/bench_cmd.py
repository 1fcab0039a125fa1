"""`kiln bench`: run a generator over a whole suite and report KernelBench's fast_p.

    kiln bench (--suite PREFIX | --kernelbench-dir DIR | --task ID ...) [--tier small|as_written]
               [--mode forward|backward|both] [--proposer template|llm] [--fallback llm] [--budget N] [--executor local]
               [--workers N] [--resume RUN_ID] [--out DIR] [--json]

``--mode backward`` verifies training kernels (``verifier`` backward mode: the reference made
differentiable, its gradients from autograd); ``both`` makes a forward run, then a backward run of the
same suite, each with its own fast_p.

Progress and a live summary go to stderr; the final table (or, with --json, one object) to stdout.
Every candidate and verdict is stored as it happens, so Ctrl-C or a crash loses nothing and
``--resume RUN_ID`` continues the run. Exit codes: 0 the run completed (whatever the verdicts),
1 interrupted, 2 bad input.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from service.cli.common import DATABASE_HELP, device_option, failer, join_interruptibly, require_sandbox
from service.text import markup_safe, printable

EXIT_COMPLETED, EXIT_INTERRUPTED, EXIT_BAD_INPUT = 0, 1, 2


_fail = failer("bench", EXIT_BAD_INPUT)


def _device(choice: str) -> str:
    return device_option(choice, _fail)


class _Live:
    """A progress bar and a live summary (rich, on stderr) fed by the runner's events."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.total, self.done = total, done
        self.counts: dict[str, int] = {}
        self.current: dict[str, str] = {}
        self.lock = threading.Lock()
        self.live: Any = None
        self.progress: Any = None
        self.bar: Any = None

    def __enter__(self) -> _Live:
        if not self.enabled:
            return self
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]bench[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.bar = self.progress.add_task("tasks", total=self.total, completed=self.done)
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        colours = {"accepted": "green", "rejected": "red", "no_kernel": "yellow"}
        counts = Text("  ")
        for verdict in ("accepted", "rejected", "no_kernel", "reference_failed", "no_small_shape", "skipped"):
            n = self.counts.get(verdict, 0)
            counts.append(f"{verdict} {n}   ", style=colours.get(verdict, "magenta") if n else "dim")
        lines = [self.progress, counts]
        for task_id, note in list(self.current.items())[-4:]:
            lines.append(Text(printable(f"  {task_id}: {note}")[:160], style="dim"))
        return Group(*lines)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        with self.lock:
            if kind == "task_started":
                self.current[event["task_id"]] = "starting"
            elif kind == "task_note":
                self.current[event["task_id"]] = str(event.get("message", ""))
            elif kind == "task_finished":
                self.current.pop(event["task_id"], None)
                verdict = event.get("verdict")
                if verdict is not None:
                    self.counts[verdict] = self.counts.get(verdict, 0) + 1
                    if self.progress is not None:
                        self.progress.advance(self.bar)
                    outcome = event.get("outcome")
                    if not self.enabled and outcome is not None:
                        self.console.print(f"{markup_safe(event['task_id'])}: {markup_safe(verdict)}", highlight=False)
            if self.live is not None:
                self.live.update(self._render())


def bench(
    suite: str | None = typer.Option(None, "--suite", help="Every task whose id starts with PREFIX (e.g. kb.level1)."),
    kernelbench_dir: Path | None = typer.Option(
        None, "--kernelbench-dir", help="A KernelBench level directory: imported into the store, then run."
    ),
    task: list[str] | None = typer.Option(None, "--task", "-t", help="A task id (repeatable)."),
    tier: str = typer.Option("small", "--tier", help="small (CPU-interpreter sizes) | as_written"),
    mode: str = typer.Option(
        "forward",
        "--mode",
        help="forward | backward (training kernels: gradients checked against autograd) | both (a forward run, "
        "then a backward run, each with its own fast_p)",
    ),
    proposer: str = typer.Option("template", "--proposer", help="template | llm"),
    fallback: str | None = typer.Option(
        None, "--fallback", help="llm: the tasks the templates leave without a verified kernel go to the LLM."
    ),
    budget: int = typer.Option(4, "--budget", help="Most candidates verified per task."),
    executor: str = typer.Option("local", "--executor", help="Where candidates are verified: local | ray."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="The Ray head for --executor ray (default: KILN_RAY_ADDRESS, else auto)."
    ),
    workers: int = typer.Option(1, "--workers", help="Tasks run at the same time (threads here)."),
    resume: str | None = typer.Option(None, "--resume", help="Continue this run (its suite, tier and proposer)."),
    out: Path | None = typer.Option(None, "--out", help="Also write the run's JSON object (run-<id>.json) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as one JSON object."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    timeout: float = typer.Option(180.0, "--timeout", help="Wall-clock limit per sandbox process (s)."),
    trials: int = typer.Option(3, "--trials", help="Correctness trials per candidate."),
    model: str | None = typer.Option(None, "--model", help="LLM model (default: KILN_LLM_MODEL)."),
    url: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Run a generator over a suite; a table of fast_p and the geometric-mean speedup at the end."""
    from sqlalchemy.exc import SQLAlchemyError

    import agents
    from kernels_store import StoreError, open_store
    from service.bench.executors import make_executor
    from service.bench.runner import BenchConfig
    from service.bench.suite import SuiteError, resolve_suite
    from service.bench.summary import run_mode
    from service.executors import ExecutorUnavailable
    from service.executors import make_executor as make_verify_executor

    try:
        pool = make_executor("local", workers)
        verifying = make_verify_executor(executor, ray_address=ray_address)
    except ValueError as e:
        _fail(str(e))
    cluster_host: dict[str, Any] | None = None
    if executor == "ray":  # the run's device and hardware are the cluster's verifying workers'
        try:
            cluster_host = verifying.hardware()  # type: ignore[attr-defined]
        except ExecutorUnavailable as e:
            _fail(str(e))
    assert cluster_host is not None or executor != "ray"
    resolved_device = str(cluster_host["device"]) if cluster_host is not None else _device(device)
    if cluster_host is None:  # verified here: the ray executor's workers check their own sandbox
        require_sandbox(_fail, device=resolved_device)
    try:
        store = open_store(url)
    except (SQLAlchemyError, StoreError) as e:
        _fail(f"cannot open the store: {e}")

    from verifier.hostinfo import describe_host

    host = cluster_host if cluster_host is not None else describe_host(resolved_device)
    try:
        if resume is not None:
            if suite or kernelbench_dir or task:
                _fail("--resume continues a run's own suite: give no --suite, --kernelbench-dir or --task")
            run = store.get_run(resume)
            if run is None:
                _fail(f"no bench run {resume!r} in the store ({store.url})")
            assert run is not None
            if run.hardware_fingerprint != host["hardware_fingerprint"]:
                _fail(f"run {resume} ran on other hardware ({run.device_name}); resume it there")
            config = BenchConfig(
                tier=run.tier,
                proposer=run.proposer,
                budget=run.budget,
                model=run.options.get("model"),
                fallback=run.options.get("fallback"),
                device=run.device,
                timeout_s=float(run.options.get("timeout_s", timeout)),
                trials=int(run.options.get("trials", trials)),
                mode=run_mode(run),
            )
            ids = [t.task_id for t in store.run_tasks(run.id)]
            _, tasks_in_run = resolve_suite(store, task_ids=ids)
            runs = [(run, config)]
        else:
            if mode not in ("forward", "backward", "both"):
                _fail(f"--mode must be forward, backward or both, not {mode!r}")
            configs = [
                BenchConfig(
                    tier=tier,
                    proposer=proposer,
                    budget=budget,
                    fallback=fallback,
                    model=(model or agents.types.default_model()) if proposer == "llm" or fallback else None,
                    device=resolved_device,
                    timeout_s=timeout,
                    trials=trials,
                    mode=one_mode,
                )
                for one_mode in (("forward", "backward") if mode == "both" else (mode,))
            ]
            name, tasks_in_run = resolve_suite(
                store,
                suite=suite,
                task_ids=list(task or []),
                kernelbench_dir=str(kernelbench_dir) if kernelbench_dir is not None else None,
            )
            runs = [
                (
                    config.create_run(
                        store, [t.id for t in tasks_in_run], suite=name, executor=executor, host=host, workers=workers
                    ),
                    config,
                )
                for config in configs
            ]
    except (SuiteError, ValueError) as e:
        _fail(str(e))

    finals = []
    for run, config in runs:
        finals.append(_execute(store, run, config, tasks_in_run, pool, verifying, resume is not None))
        if finals[-1].status != "completed":  # interrupted: the next mode's run is left to a later --resume
            break
    verifying.close()
    if as_json and len(finals) > 1:  # --mode both: one object holding the two runs
        sys.stdout.write(json.dumps({"runs": [_report(store, f, True, out, quiet=True) for f in finals]}, indent=2))
        sys.stdout.write("\n")
    else:
        for final in finals:
            _report(store, final, as_json, out)
    stopped = [r for r, _c in runs if r.id not in {f.id for f in finals if f.status == "completed"}]
    for run in stopped:
        typer.echo(f"kiln bench: run {run.id} interrupted; resume with `kiln bench --resume {run.id}`", err=True)
    raise typer.Exit(EXIT_INTERRUPTED if stopped else EXIT_COMPLETED)


def _execute(store: Any, run: Any, config: Any, tasks: list[Any], pool: Any, verifying: Any, resuming: bool) -> Any:
    """Run (or resume) one run to its end; its final record. Exits on a second Ctrl-C or a failed run."""
    from service.bench.runner import BenchRunner

    done = sum(1 for t in store.run_tasks(run.id) if t.status == "done")
    typer.echo(
        f"kiln bench: run {run.id}: {len(tasks)} task(s) of {run.suite}, tier {config.tier}, "
        f"mode {config.mode}, {config.generator} on {run.device_name} ({run.device}); store {store.url}"
        + (f"; resuming, {done} done" if resuming else ""),
        err=True,
    )
    cancel = threading.Event()
    box: dict[str, Any] = {}
    show = sys.stderr.isatty()
    with _Live(len(tasks), done, enabled=show) as live:
        runner = BenchRunner(store, run, config, pool, listener=live, cancel=cancel, verify_executor=verifying)

        def target() -> None:
            try:
                box["run"] = runner.execute(tasks)
            except BaseException as e:  # reported below; the store already has what was verified
                box["error"] = e

        thread = threading.Thread(target=target, name="kiln-bench", daemon=True)
        try:
            join_interruptibly(
                thread, cancel, "\ninterrupted: finishing the candidates being verified (Ctrl-C again to quit now)..."
            )
        except KeyboardInterrupt:  # the second Ctrl-C
            store.set_run_status(run.id, "interrupted")
            typer.echo(f"kiln bench: stopped; resume with `kiln bench --resume {run.id}`", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if "error" in box:
        verifying.close()
        store.set_run_status(run.id, "interrupted")
        typer.echo(f"kiln bench: the run failed: {box['error']!r}; resume with --resume {run.id}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    return box["run"]


def _report(store: Any, run: Any, as_json: bool, out: Path | None, *, quiet: bool = False) -> dict[str, Any]:
    """Print the run (its table, or with ``as_json`` its JSON object unless ``quiet``); its JSON object."""
    from service.bench.summary import FAST_P, p_key, run_json

    rows = store.run_tasks(run.id)
    data = run_json(run, rows)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"run-{run.id}.json"
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {path}", err=True)
    if as_json:
        if not quiet:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return data
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    summary = run.summary or {}
    title = f"run {run.id}: {run.suite} ({run.tier}, {data['mode']}, {run.generator}, {run.device_name})"
    per_task = Table(title=markup_safe(title))
    for col in ("task", "verdict", "changed constants", "speedup", "s", "reason"):
        per_task.add_column(col, overflow="fold")
    for r in rows:
        changed = ", ".join(f"{k} {v[0]}->{v[1]}" for k, v in r.changed_constants.items())
        speed = f"{r.speedup_eager:.2f}x" if r.speedup_eager else "-"
        cells = (r.task_id, r.verdict or r.status, changed[:60], speed, f"{r.seconds:.0f}", r.reason[:100])
        per_task.add_row(*(markup_safe(cell) for cell in cells))  # the store's text: control characters escaped
    console.print(per_task)
    what = "training steps (forward and backward)" if data["mode"] == "backward" else "forward"
    table = Table(title=f"KernelBench fast_p, {what} (p > 0 counts GPU timings only)")
    for p in FAST_P:
        table.add_column(f"fast_{p_key(p)}", justify="right")
    table.add_column("geomean speedup", justify="right")
    fast = summary.get("fast_p") or {}
    geo = summary.get("geomean_speedup")
    table.add_row(
        *(f"{float(fast.get(p_key(p), 0.0)):.2f}" for p in FAST_P), f"{geo:.2f}x" if geo else "n/a (no GPU timing)"
    )
    console.print(table)
    counts = summary.get("counts") or {}
    console.print(
        f"{summary.get('done', 0)}/{summary.get('tasks', 0)} tasks: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        + f"; {summary.get('seconds', 0)} s of task time",
        highlight=False,
    )
    return data


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
