"""The ``batscreen`` command: a thin layer over the Python API.

Exit codes: 0 success, 1 unexpected error, 2 bad input (workflow file, output directory,
unavailable potential), 130 interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from screen.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    app,
    console,
    err,
    fail,
    load_or_exit,
    models_app,
    setup_logging,
)

__all__ = ["app", "main"]


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="workflow file (YAML)")]) -> None:
    """Check a workflow file and list every problem at once."""
    from screen.workflow.load import validate_workflow

    problems = validate_workflow(file)
    if problems:
        err.print(f"[bold red]{len(problems)} problem(s)[/] in {file}:", highlight=False)
        for problem in problems:
            err.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    console.print(f"{file}: valid", highlight=False)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="workflow file (YAML)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="campaign directory [campaigns/<name>]")
    ] = None,
    workers: Annotated[
        str | None, typer.Option(help="relaxation workers: a number or 'auto' [workflow's]")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    """Run a campaign (or resume it: rerun the same command after an interruption)."""
    from screen.potentials.cards import PotentialUnavailable
    from screen.store.campaign import CampaignDirectoryError

    setup_logging(verbose)
    workflow = load_or_exit(file)
    n_workers: int | str | None = None
    if workers is not None:
        if workers != "auto" and not (workers.isdigit() and int(workers) > 0):
            raise fail(f"--workers must be a positive number or 'auto', not {workers!r}")
        n_workers = workers if workers == "auto" else int(workers)

    from screen.cli.progress import StageProgress
    from screen.pipeline import default_out
    from screen.pipeline import run as run_campaign

    target = out or default_out(workflow)
    console.print(f"campaign [bold]{workflow.name}[/] -> {target}", highlight=False)
    try:
        with StageProgress(console) as progress:
            result = run_campaign(workflow, target, workers=n_workers, progress=progress.update)
    except CampaignDirectoryError as exc:
        raise fail(str(exc)) from None
    except PotentialUnavailable as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted[/]: finished records are saved; run the same command "
            "again to resume",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if verbose:
            raise
        raise fail(
            f"{type(exc).__name__}: {exc} (finished work is saved; rerun with -v for the "
            "traceback, or rerun to resume)",
            code=1,
        ) from None
    console.print(funnel_table(result.funnel))
    console.print(
        f"{len(result.ranked())} ranked candidates: {result.root / 'candidates.csv'}"
        + (f"; report: {report}" if (report := result.root / "report.html").is_file() else ""),
        highlight=False,
    )


def funnel_table(rows: list[Any]) -> Table:
    """The funnel as a rich table."""
    table = Table(title="funnel", title_justify="left")
    table.add_column("stage")
    table.add_column("entered", justify="right")
    table.add_column("passed", justify="right")
    table.add_column("left: reason (count)")
    for row in rows:
        lines = []
        for (state, reason), n in sorted(row.left.items()):
            lines.append(f"{reason} ({state}): {n}")
            lines += [f"  {entry}: {k}" for entry, k in row.entries_of(reason)]
        table.add_row(row.stage, str(row.entered), str(row.passed), "\n".join(lines) or "-")
    return table


@app.command()
def search(
    file: Annotated[Path, typer.Argument(help="workflow file with a 'search' section")],
    out: Annotated[Path, typer.Option("--out", "-o", help="search directory")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    """Guided search (Optuna): propose, evaluate in batches, learn; resume or join a study.

    Several processes (e.g. SLURM array tasks) may run this on the same --out directory at
    once: they share the study's journal file and never evaluate a stored result again.
    """
    from screen.potentials.cards import PotentialUnavailable
    from screen.search.campaign import search as run_search
    from screen.search.space import SearchSpaceError

    setup_logging(verbose)
    workflow = load_or_exit(file)
    if workflow.search is None:
        raise fail(f"{file}: no 'search' section (search: {{budget: N, ...}}); see docs/search.md")
    params = workflow.search
    console.print(
        f"search [bold]{workflow.name}[/] -> {out}: {params.sampler}, budget {params.budget} "
        f"evaluations, batches of {params.batch_size}",
        highlight=False,
    )
    try:
        result = run_search(workflow, out)
    except (SearchSpaceError, PotentialUnavailable) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: rerun the same command to resume", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(
        f"{result.trials} trials, {result.evaluations} evaluations, {result.feasible} feasible; "
        f"{out / 'candidates.csv'}, {out / 'search.json'}",
        highlight=False,
    )


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="campaign name; writes NAME.yaml")],
    source: Annotated[
        str, typer.Option("--from", help="example workflow in workflows/ to start from")
    ] = "quickstart",
    directory: Annotated[Path, typer.Option("--dir", help="where to write NAME.yaml")] = Path("."),
) -> None:
    """Copy an example workflow to start a new campaign from."""
    import yaml

    from screen.resources import resource_dir
    from screen.workflow.load import WorkflowError, validate_data

    examples = sorted(p.stem for p in resource_dir("workflows").glob("*.yaml"))
    if source not in examples:
        raise fail(f"no example workflow {source!r}; available: {', '.join(examples)}")
    target = directory / f"{name}.yaml"
    if target.exists():
        raise fail(f"{target} exists; choose another name or --dir")
    lines = (resource_dir("workflows") / f"{source}.yaml").read_text().splitlines(keepends=True)
    text = "".join(f"name: {name}\n" if line.startswith("name:") else line for line in lines)
    try:
        validate_data(yaml.safe_load(text), file=str(target), base_dir=resource_dir("workflows"))
    except WorkflowError as exc:
        raise fail(str(exc)) from None
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(f"wrote {target} (from {source}); edit it, then: batscreen run {target}")


@app.command()
def status(directory: Annotated[Path, typer.Argument(help="campaign directory")]) -> None:
    """Summarize a campaign directory."""
    from screen.status import summarize
    from screen.store.campaign import CampaignDirectoryError

    try:
        info = summarize(directory)
    except CampaignDirectoryError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"campaign [bold]{info['name']}[/] in {info['root']} (created {info['created_utc']})",
        highlight=False,
    )
    table = Table()
    for col in ("stage", "state", "records", "passed"):
        table.add_column(col)
    for s in info["stages"]:
        records = f"{s.records}/{s.planned}" if s.planned else str(s.records)
        table.add_row(s.stage, s.state, records, "" if s.passed is None else str(s.passed))
    console.print(table)
    for s in info["stages"]:
        if s.problem:
            err.print(
                f"[yellow]stage {s.stage} damaged[/]: {s.problem}; the next batscreen run "
                "(or resubmit) reruns it from its shards and journals",
                highlight=False,
            )
    last = info["last_run"]
    if last:
        console.print(
            f"last run: {last.get('status')} (started {last.get('started_utc')}, ended "
            f"{last.get('ended_utc', '-')}, host {last.get('host')}, device {last.get('device')})",
            highlight=False,
        )
    if info["potential"]:
        p = info["potential"]
        console.print(f"potential: {p['name']} (sha256 {str(p.get('sha256'))[:12]}...)")
    console.print(f"deliverables: {', '.join(info['deliverables']) or 'none yet'}")
    section = hpc.slurm_table(Path(directory))
    if section is not None:
        table, failures = section
        console.print(table)
        for line in failures:
            console.print(line, highlight=False, markup=False)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write to a file")] = None,
) -> None:
    """Print the JSON schema of the workflow file format."""
    from screen.workflow.schema import workflow_schema

    text = json.dumps(workflow_schema(), indent=2) + "\n"
    if out:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text)


def _weights_state(card: Any) -> str:
    from screen.potentials.cards import PotentialUnavailable
    from screen.potentials.weights import cached_path, verified_checkpoint

    if card.source.kind == "none":
        return "none needed"
    try:
        verified_checkpoint(card)
    except PotentialUnavailable as exc:
        if card.source.kind == "url" and not cached_path(card).is_file():
            return "not cached"
        return f"INVALID: {exc}"
    return f"{card.source.kind}, verified" if card.source.kind != "url" else "cached, verified"


@models_app.command("list")
def models_list() -> None:
    """List the registered potentials and whether their weights are available here."""
    from screen.potentials.cards import all_cards
    from screen.potentials.weights import cache_root

    table = Table()
    for col in ("name", "backend", "energy convention", "dtype", "licence", "weights"):
        table.add_column(col)
    missing = []
    for card in all_cards().values():
        state = _weights_state(card)
        if state == "not cached":
            missing.append(card.name)
        table.add_row(
            card.name,
            card.backend,
            card.energy_convention,
            card.default_dtype,
            card.license.split(",")[0][:30],
            state,
        )
    console.print(table)
    console.print(f"cache: {cache_root()}", highlight=False)
    if missing:
        console.print(
            f"stage weights on a machine with network: batscreen models fetch {missing[0]}",
            highlight=False,
        )


@models_app.command("fetch")
def models_fetch(
    name: Annotated[str, typer.Argument(help="model card name")],
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="a copy of the weights to verify and cache instead"),
    ] = None,
) -> None:
    """Download (or copy) a potential's weights into the cache and verify their sha256."""
    from screen.potentials.cards import PotentialUnavailable, get_card
    from screen.potentials.weights import fetch

    try:
        card = get_card(name)
    except KeyError as exc:
        raise fail(str(exc.args[0])) from None
    if from_file is not None and not from_file.is_file():
        raise fail(f"--from-file {from_file}: no such file")
    try:
        path = fetch(card, from_file=from_file)
    except PotentialUnavailable as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(
            f"cannot download {card.name} from {card.source.url}: {exc}; on a compute node "
            f"without network, fetch on the login node or use --from-file"
        ) from None
    console.print(f"{card.name}: {path} (sha256 verified)", highlight=False)


@models_app.command("verify")
def models_verify(
    names: Annotated[list[str] | None, typer.Argument(help="cards to check [all]")] = None,
) -> None:
    """Re-check the sha256 of every available weights file; exit 2 if any is invalid."""
    from screen.potentials.cards import all_cards

    cards = all_cards()
    unknown = [n for n in names or [] if n not in cards]
    if unknown:
        raise fail(f"no model card named {', '.join(unknown)}; registered: {', '.join(cards)}")
    bad = 0
    for name in names or list(cards):
        state = _weights_state(cards[name])
        bad += state.startswith("INVALID")
        console.print(f"{name}: {state}", highlight=False, markup=False)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)


# after the commands above, so that `batscreen --help` lists them first
from screen.cli import hpc  # noqa: E402  (registers submit, task, resubmit, collect)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # pragma: no cover - `batscreen schema | head`
        sys.exit(0)
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:
            _exit_now(EXIT_INTERRUPTED)
        raise


def _exit_now(code: int) -> None:
    """Leave at once after Ctrl-C: journals are already on disk.

    A normal interpreter exit joins the worker pools' management threads, which can wait
    on a worker that was being spawned when the interrupt came; stop the children and
    skip that wait.
    """
    import multiprocessing
    import os

    for child in multiprocessing.active_children():
        child.terminate()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
