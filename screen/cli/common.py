"""What every batscreen command shares: the Typer app, consoles, exit codes, error exits."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console


class _Commands(typer.Typer):
    """A Typer whose commands turn a campaign-directory error into exit code 2.

    A missing, foreign, locked or damaged campaign directory is the user's to fix: its
    message (naming the file and the next step) is printed, never a traceback.
    """

    def command(self, *args: Any, **kwargs: Any) -> Any:
        register = super().command(*args, **kwargs)

        def decorator(function: Any) -> Any:
            @functools.wraps(function)
            def guarded(*a: Any, **k: Any) -> Any:
                from screen.store.errors import CampaignError

                try:
                    return function(*a, **k)
                except CampaignError as exc:
                    raise fail(str(exc)) from None

            return register(guarded)

        return decorator


app = _Commands(
    name="batscreen",
    help="Screen battery materials with machine-learned interatomic potentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = _Commands(help="Potentials registered by model cards in models/.")
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
