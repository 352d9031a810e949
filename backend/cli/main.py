"""The ``fieldrep`` command line: serving, the demo, importers, schema export and benchmarks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from backend.cli import bench_cmd, plan_cmd, report_cmd, routing_cmd, territories_cmd
from backend.settings import Settings

app = typer.Typer(
    name="fieldrep",
    help="fieldrep: open backend for field sales reps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(
    routing_cmd.app, name="routing", help="Road network: build a region, compute matrices."
)
app.add_typer(bench_cmd.app, name="bench", help="Benchmarks of the solvers on standard instances.")
app.add_typer(
    territories_cmd.app, name="territories", help="Territory design and realignment from CSV files."
)
app.add_typer(report_cmd.app, name="report", help="CSV reports: coverage and windshield time.")
app.add_typer(plan_cmd.app, name="plan", help="Multi-day visit planning from CSV files.")
schema_app = typer.Typer(
    no_args_is_help=True, help="The GraphQL contract (graphql/schema.graphql)."
)
app.add_typer(schema_app, name="schema")

console = Console(stderr=True)
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"


def _migrate(settings: Settings) -> None:
    from backend.db.migrate import upgrade_to_head

    upgrade_to_head(settings.effective_database_url)


def _workers_problem(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` processes cannot serve this configuration, or None.

    Several processes share live notices through Redis (each has its own in-process bus
    otherwise, so a subscriber would only hear what its own process relayed) and share one
    database file only on PostgreSQL.
    """
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    if not settings.effective_database_url.startswith("postgresql"):
        return "several workers need PostgreSQL (FIELDREP_DATABASE_URL); SQLite serves one"
    if not settings.redis_url:
        return (
            "several workers need FIELDREP_REDIS_URL: live notices travel between processes "
            "through Redis; without it, run one worker"
        )
    return None


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run uvicorn. WebSocket compression is off: notices are a few hundred bytes, and
    permessage-deflate costs a zlib pass per message and a compression context per socket
    (hundreds of KB each), which a thousand live phones turn into CPU and memory for nothing.
    Header size and header deadline: ``backend/http_guard.py``."""
    import uvicorn

    from backend.http_guard import uvicorn_options

    if workers > 1:
        # A worker busy with a burst (a realignment fanned out to a thousand sockets) answers
        # the supervisor's health ping late; killing it would drop every live connection.
        uvicorn.run(
            "backend.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_worker_healthcheck=30,
            ws_per_message_deflate=False,
            proxy_headers=False,  # X-Forwarded-For: FIELDREP_TRUSTED_PROXIES (client_address.py)
            **uvicorn_options(settings.ws_max_message_bytes),
        )
    else:
        from backend.app import create_app

        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            ws_per_message_deflate=False,
            proxy_headers=False,  # X-Forwarded-For: FIELDREP_TRUSTED_PROXIES (client_address.py)
            **uvicorn_options(settings.ws_max_message_bytes),
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="uvicorn worker processes (PostGIS and Redis only).")
    ] = 1,
) -> None:
    """Serve the API on an existing database (migrating it to the latest schema first)."""
    settings = Settings()
    problem = _workers_problem(settings, workers)
    if problem:
        console.print(f"[red]error:[/] {problem}")
        raise typer.Exit(2)
    _migrate(settings)
    console.print(f"[green]fieldrep[/] serving {settings.effective_database_url.split('@')[-1]}")
    _serve(settings, host, port, workers)


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) to the configured database."""
    settings = Settings()
    _migrate(settings)
    console.print("[green]database is at the latest schema[/]")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API when the demo is built.")
    ] = True,
) -> None:
    """Build the demo (Liechtenstein roads, real businesses, a team) and serve the API."""
    from backend.runtime import Runtime
    from backend.services.demo import build_demo, demo_exists

    settings = Settings()
    console.print(f"database: {settings.effective_database_url}")
    _migrate(settings)
    region = settings.region_path or _bundled_region()

    async def run() -> list[object] | None:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session:
                if await demo_exists(session):
                    return None
                with _spinner() as progress:
                    task = progress.add_task("building the demo", total=None)

                    def say(message: str) -> None:
                        progress.update(task, description=message)
                        console.print(f"  {message}")

                    logins = await build_demo(
                        session, region, settings.effective_routing_cache_dir, progress=say
                    )
                await session.commit()
                return list(logins)
        finally:
            await runtime.close()

    logins = asyncio.run(run())
    if logins is None:
        console.print("demo already built; password for every login: fieldrep-demo")
    else:
        table = Table(title="Demo logins (password: fieldrep-demo)")
        for column in ("role", "name", "email"):
            table.add_column(column)
        for login in logins:
            table.add_row(login.role, login.name, login.email)  # type: ignore[attr-defined]
        console.print(table)
    console.print(
        f"API: http://{host}:{port}/graphql  app: http://{host}:{port}/app/  "
        "Map data © OpenStreetMap contributors (ODbL)"
    )
    if serve_after:
        _serve(settings, host, port, 1)


def _bundled_region() -> Path:
    from backend.settings import bundled_region_path

    return bundled_region_path()


def _spinner() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@app.command()
def relay(
    interval: Annotated[float, typer.Option(help="Seconds between scheduler passes.")] = 30.0,
) -> None:
    """Run the outbox relay, the notification dispatcher and the scheduler as their own process."""
    import signal

    from backend.heap import settle_heap
    from backend.jobs.scheduler import background
    from backend.messaging.wiring import running_messaging
    from backend.runtime import Runtime

    settings = Settings()
    _migrate(settings)
    settings = settings.model_copy(update={"run_relay_in_process": True})

    async def run() -> None:
        runtime = Runtime.create(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with running_messaging(runtime), background(runtime, interval):
                settle_heap()  # as in the API process: no full collection mid-batch
                console.print("[green]relay running[/] (Ctrl-C to stop)")
                await stop.wait()
        finally:
            await runtime.close()

    asyncio.run(run())


@app.command("import-osm")
def import_osm(
    region: Annotated[Path, typer.Argument(help="An .osm.pbf, .osm or .osm.bz2 extract.")],
    default: Annotated[bool, typer.Option(help="Make this the region the API routes on.")] = True,
) -> None:
    """Build the road network of REGION, cache it and record it as an imported region."""
    from backend.services.regions import record_region
    from routing.network import RoutingError, load_region

    settings = Settings()
    _migrate(settings)
    with _spinner() as progress:
        task = progress.add_task("reading the extract", total=1.0)

        def step(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        try:
            net = load_region(region, cache_dir=settings.effective_routing_cache_dir, progress=step)
        except RoutingError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
    asyncio.run(record_region(settings, region, net, make_default=default))
    console.print(
        f"[green]region {region.name}[/]: {net.node_count} intersections, "
        f"hash {net.content_hash[:12]}; set FIELDREP_REGION_PATH={region.resolve()} to serve it"
    )


@app.command("import-accounts")
def import_accounts_cmd(
    csv_file: Annotated[Path, typer.Argument(help="CRM export (columns: see README).")],
    team: Annotated[
        str | None, typer.Option(help="Team for rows without a team column (created if new).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and report, write nothing.")] = False,
    region: Annotated[
        Path | None,
        typer.Option(
            help="OSM extract to look up rows that have an address but no coordinates "
            "(default: the region the API routes on)."
        ),
    ] = None,
) -> None:
    """Import or update accounts from CSV; bad rows are listed by line number and skipped.

    Rows without coordinates are placed by their address (street and house number) from the
    region's OpenStreetMap data, offline; a row whose address is not there is rejected with the
    reason.
    """
    from backend.cli.import_cmd import run_import

    settings = Settings()
    _migrate(settings)
    run_import(console, settings, csv_file, team=team, dry_run=dry_run, region=region)


@app.command("create-user")
def create_user_cmd(
    email: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="rep, manager or admin.")] = "rep",
    team: Annotated[str | None, typer.Option(help="Team name (created if new).")] = None,
    full_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
    home_lat: Annotated[float | None, typer.Option(help="Rep's home base latitude.")] = None,
    home_lon: Annotated[float | None, typer.Option(help="Rep's home base longitude.")] = None,
) -> None:
    """Create a user (and a rep profile for reps)."""
    from backend.db.models import Role
    from backend.runtime import Runtime
    from backend.services.people import create_rep, create_user, get_or_create_team

    try:
        role_value = Role(role)
    except ValueError as exc:
        console.print(f"[red]error:[/] --role must be rep, manager or admin, not {role!r}")
        raise typer.Exit(2) from exc
    if role_value is not Role.ADMIN and team is None:
        console.print("[red]error:[/] reps and managers need --team")
        raise typer.Exit(2)
    settings = Settings()
    _migrate(settings)

    async def run() -> None:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                team_row = await get_or_create_team(session, team) if team else None
                user = await create_user(
                    session,
                    email=email,
                    password=password,
                    full_name=full_name or email,
                    role=role_value,
                    team=team_row,
                )
                if role_value is Role.REP and team_row is not None:
                    home = (
                        (home_lat, home_lon)
                        if home_lat is not None and home_lon is not None
                        else None
                    )
                    await create_rep(session, user=user, team=team_row, home=home)
        finally:
            await runtime.close()

    asyncio.run(run())
    console.print(f"[green]created {role} {email}[/]")


@schema_app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_PATH,
    check: Annotated[
        bool, typer.Option(help="Fail if the file differs instead of writing.")
    ] = False,
) -> None:
    """Write the GraphQL SDL to graphql/schema.graphql (the API contract)."""
    from backend.api.schema import schema_sdl

    sdl = schema_sdl()
    if check:
        if not out.is_file() or out.read_text() != sdl:
            console.print(f"[red]{out} is out of date[/]: run `fieldrep schema export`")
            raise typer.Exit(1)
        console.print(f"{out} is up to date")
        return
    out.write_text(sdl)
    console.print(f"wrote {out}")


def main() -> None:
    """Entry point used by ``python -m backend.cli.main``."""
    app()


if __name__ == "__main__":
    main()
