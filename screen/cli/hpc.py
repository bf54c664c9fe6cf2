"""``batscreen submit | task | resubmit | collect``: campaigns on SLURM clusters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from screen.cli.common import EXIT_BAD_INPUT, app, console, err, fail, setup_logging


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="workflow file (YAML)")],
    profile: Annotated[
        str,
        typer.Option("--profile", "-p", help="cluster profile: a name in hpc/profiles or a file"),
    ] = "generic",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="campaign directory [campaigns/<name>]")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write the job scripts, print sbatch, submit nothing")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a campaign on SLURM: job arrays over shards, chained with afterok."""
    from screen.hpc.profiles import ProfileError, load_profile
    from screen.hpc.slurm import SlurmError
    from screen.hpc.submit import submit as submit_campaign
    from screen.pipeline import default_out
    from screen.potentials.cards import PotentialUnavailable
    from screen.store.campaign import CampaignDirectoryError
    from screen.workflow.load import WorkflowError, load_workflow

    setup_logging(verbose)
    try:
        workflow = load_workflow(file)
        prof, prof_path = load_profile(profile)
        target = out or default_out(workflow)
        plan = submit_campaign(workflow, target, prof, prof_path, dry_run=dry_run)
    except (WorkflowError, ProfileError, PotentialUnavailable, CampaignDirectoryError) as exc:
        raise fail(str(exc)) from None
    except SlurmError as exc:
        raise fail(str(exc), code=1) from None
    shards = ", ".join(f"{k} {v} shard(s)" for k, v in plan.shards.items())
    console.print(f"campaign {workflow.name} -> {plan.root} ({shards})", highlight=False)
    for warning in plan.warnings:
        err.print(f"warning: {warning}", highlight=False, markup=False)
    layout = plan.layout
    for step, script in plan.scripts.items():
        job = plan.job_ids.get(step)
        parts = layout.parts.get(step, []) if layout else []
        split = f"  [{layout.describe(step)}]" if layout and parts and (
            layout.pack > 1 or len(parts) > 1) else ""  # fmt: skip
        console.print(f"  {step:9s} {script}" + (f"  job {job}" if job else "") + split,
                      highlight=False, markup=False)  # fmt: skip
    if dry_run:
        console.print("dry run, nothing submitted; the commands would be:")
        for command in plan.commands:
            console.print(f"  {command}", highlight=False, markup=False)
    else:
        console.print(f"follow it with: batscreen status {plan.root}", highlight=False)


@app.command()
def task(
    directory: Annotated[Path, typer.Argument(help="campaign directory")],
    step: Annotated[str, typer.Argument(help="relax | estimate | md | finish")],
    shard: Annotated[
        int | None,
        typer.Option(help="array task index (array steps): the shard, unless --shards/--pack"),
    ] = None,
    shards: Annotated[
        str | None,
        typer.Option(help="the shards of this array, e.g. 5-9 (task i runs the i-th --pack)"),
    ] = None,
    pack: Annotated[int, typer.Option(min=1, help="shards per array task")] = 1,
    workers: Annotated[str | None, typer.Option(help="workers on CPU [auto]")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """One SLURM job of a submitted campaign (what the job scripts run)."""
    from screen.hpc.submit import run_task

    setup_logging(verbose)
    n: int | str | None = int(workers) if workers and workers.isdigit() else workers
    code = run_task(directory.resolve(), step, shard, n, shards=shards, pack=pack)
    raise typer.Exit(code)


@app.command()
def resubmit(directory: Annotated[Path, typer.Argument(help="campaign directory")]) -> None:
    """Submit only the unfinished or failed shards and the steps after them."""
    from screen.hpc.slurm import SlurmError
    from screen.hpc.submit import resubmit as resubmit_campaign

    try:
        plan = resubmit_campaign(directory)
    except SlurmError as exc:
        raise fail(str(exc), code=1) from None
    if not plan.job_ids:
        console.print("nothing to resubmit: every step is done or still queued")
    for step, job in plan.job_ids.items():
        console.print(f"  {step:9s} job {job}", highlight=False)


@app.command()
def collect(directory: Annotated[Path, typer.Argument(help="campaign directory")]) -> None:
    """Merge the shards of a SLURM campaign and write the ranking and deliverables."""
    from screen.executors.local import IncompleteStage
    from screen.hpc.submit import collect as collect_campaign

    try:
        result = collect_campaign(directory)
    except IncompleteStage as exc:
        err.print(f"{exc}; resubmit with: batscreen resubmit {directory}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(
        f"{len(result.ranked())} ranked candidates: {result.root / 'candidates.csv'}",
        highlight=False,
    )


def slurm_table(directory: Path) -> tuple[Table, list[str]] | None:
    """The SLURM section of ``batscreen status``: per-step table and one line per failure.

    None for a campaign that was never submitted.
    """
    from screen.hpc.submit import campaign_status, slurm_dir

    if not (slurm_dir(directory) / "jobs.json").is_file():
        return None
    table = Table(title="SLURM")
    for col in ("step", "shards", "done", "running", "pending", "failed"):
        table.add_column(col)
    failures = []
    for s in campaign_status(directory):
        if s.total == 0:
            continue
        table.add_row(s.step, str(s.total), str(s.done), str(s.running), str(s.pending),
                      str(len(s.failed)))  # fmt: skip
        failures += [
            f"failed: {s.step} shard {k}: {reason}" + (f" (log {log})" if log else "")
            for k, (reason, log) in sorted(s.failed.items())
        ]
    return table, failures
