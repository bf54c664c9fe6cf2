"""What every batscreen command shares: the Typer app, consoles, exit codes, error exits."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(
    name="batscreen",
    help="Screen battery materials with machine-learned interatomic potentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Potentials registered by model cards in models/.")
app.add_typer(models_app, name="models")

# wide output when piped or logged, so tables stay one record per line
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def load_or_exit(file: Path) -> Any:
    """The workflow of a file, or every problem printed and exit code 2."""
    from screen.workflow.load import WorkflowError, load_workflow

    try:
        return load_workflow(file)
    except WorkflowError as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print the message as an error; returns the typer.Exit to raise, with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def setup_logging(verbose: bool) -> None:
    """Log to stderr through rich: INFO with --verbose, else warnings only."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
