"""CLI sub-commands (filled in by the feature that owns them)."""

import typer

app = typer.Typer(no_args_is_help=True)
