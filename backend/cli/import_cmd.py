"""``fieldrep import-accounts``: run the account import and report it on the terminal.

The report quotes the file (names, ids, addresses), so every piece of user data is printed as
plain text: rich would otherwise read ``[/]`` or ``[bold]`` in an account name as markup and
crash ("closing tag '[/]' has nothing to close") or restyle the output. Failures of the whole
file (binary, unreadable) and database refusals end with a one-line reason and exit code 2,
never a traceback with the SQL and its parameters (which would print the file's data again).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from backend.services.account_import import ImportReport
from backend.settings import Settings

EXIT_REJECTED_ROWS = 1
EXIT_FILE_ERROR = 2
SHOWN_ERRORS = 200


def _spinner(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(EXIT_FILE_ERROR)


def run_import(
    console: Console,
    settings: Settings,
    csv_file: Path,
    *,
    team: str | None,
    dry_run: bool,
    region: Path | None,
) -> None:
    """Import ``csv_file`` and print the report; raises ``typer.Exit`` with the exit code."""
    from backend.runtime import Runtime
    from backend.services.account_import import ImportFileError, import_accounts
    from backend.settings import bundled_region_path
    from routing.network import RoutingError
    from routing.network.addresses import lazy_address_index

    if not csv_file.is_file():
        raise _fail(console, f"{csv_file} does not exist")
    geocoder = lazy_address_index(region or settings.region_path or bundled_region_path())

    async def run() -> ImportReport:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                with _spinner(console) as progress:
                    task = progress.add_task("importing accounts", total=None)
                    report = await import_accounts(
                        session,
                        csv_file,
                        default_team=team,
                        geocoder=geocoder,
                        progress=lambda done, total: progress.update(
                            task, completed=done, total=total
                        ),
                    )
                if dry_run:
                    await session.rollback()
                return report
        finally:
            await runtime.close()

    try:
        report = asyncio.run(run())
    except (RoutingError, ImportFileError) as exc:
        raise _fail(console, str(exc)) from None
    except SQLAlchemyError as exc:
        # The statement and parameters stay out of the terminal (they hold the file's rows).
        reason = type(getattr(exc, "orig", None) or exc).__name__
        message = f"the database refused the import ({reason}); nothing was written"
        raise _fail(console, message) from None
    for note in report.notes:
        console.print(f"[cyan]note:[/] {escape(note)}")
    for error in report.errors[:SHOWN_ERRORS]:
        console.print(f"[yellow]rejected[/] {escape(str(error))}")
    if len(report.errors) > SHOWN_ERRORS:
        console.print(f"... and {len(report.errors) - SHOWN_ERRORS} more rejected rows")
    console.print(
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {len(report.errors)}"
        + (" (dry run: nothing written)" if dry_run else "")
    )
    if report.errors:
        raise typer.Exit(EXIT_REJECTED_ROWS)


__all__ = ["run_import"]
