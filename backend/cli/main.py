"""The ``fieldrep`` command line: one entry point for serving, importing, routing and benchmarks."""

from __future__ import annotations

import typer

from backend.cli import bench_cmd, routing_cmd, territories_cmd

app = typer.Typer(
    name="fieldrep",
    help="fieldrep: open backend for field sales reps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(routing_cmd.app, name="routing", help="Road network: build a region, compute matrices.")
app.add_typer(bench_cmd.app, name="bench", help="Benchmarks of the solvers on standard instances.")
app.add_typer(
    territories_cmd.app, name="territories", help="Territory design and realignment from CSV files."
)


def main() -> None:
    """Entry point used by ``python -m backend.cli.main``."""
    app()


if __name__ == "__main__":
    main()
