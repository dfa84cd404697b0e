"""The `pulse` command line."""

import gc
import json
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import ProblemError
from app.settings import Settings
from app.vocab import Scope

cli = typer.Typer(help="Partnership engagement pulse API.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
systems_cli = typer.Typer(help="Systems (tenants).", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(systems_cli, name="systems")
cli.add_typer(keys_cli, name="keys")

err = Console(stderr=True)
M = TypeVar("M", bound=BaseModel)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the API with uvicorn."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from app.supervision import SUPERVISOR_ENV

    # The service's own messages (the publisher's) go where uvicorn's go.
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["loggers"]["app"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if workers > 1:
        os.environ[SUPERVISOR_ENV] = str(os.getpid())  # workers stop if this process dies
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging,
        # SIGTERM: stop accepting, let requests in flight finish, exit within the bound.
        timeout_graceful_shutdown=Settings().shutdown_timeout,
        # uvicorn's own handling trusts 127.0.0.1 (or FORWARDED_ALLOW_IPS); the app trusts
        # exactly PULSE_TRUSTED_PROXIES instead.
        proxy_headers=False,
        # uvicorn's h11 protocol with a deadline for request heads (slow clients).
        http="app.serving:HeaderDeadlineProtocol",
    )


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database (PULSE_DATABASE_URL) to the newest schema."""
    from app.migrate import upgrade

    upgrade(Settings().database_url, revision)
    err.print(f"Database migrated to {revision}.")


def _database() -> tuple[Engine, sessionmaker[Session]]:
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(Settings().database_url)
    return engine, make_sessionmaker(engine)


@systems_cli.command("create")
def systems_create(
    slug: Annotated[str, typer.Argument(help="Identifier of the system, e.g. `north-east`.")],
    name: Annotated[str, typer.Option(help="Name of the system.")],
    min_group_size: Annotated[
        int, typer.Option(min=3, help="Smallest group whose aggregates are published.")
    ] = 5,
) -> None:
    """Create a system (an Integrated Care System: the tenant)."""
    from app.schemas.structure import SystemCreate
    from app.services.keys import create_system

    fields = _valid(SystemCreate, {"slug": slug, "name": name, "min_group_size": min_group_size})
    engine, factory = _database()
    try:
        with factory.begin() as session:
            create_system(
                session,
                fields.slug,
                fields.name,
                datetime.now(UTC),
                min_group_size=fields.min_group_size,
            )
    except ProblemError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    err.print(f"System '{slug}' created.")


@keys_cli.command("create")
def keys_create(
    system: Annotated[str, typer.Option(help="Slug of the system the key belongs to.")],
    scope: Annotated[list[Scope], typer.Option(help="A scope to grant; repeat for more.")],
    expires: Annotated[
        str | None, typer.Option(help="Date (YYYY-MM-DD, UTC) from which the key stops working.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    client: Annotated[
        str | None,
        typer.Option(
            help="The portal the key belongs to: keys of one client share what they stored."
        ),
    ] = None,
) -> None:
    """Create an API key and print it, once, on a line of its own."""
    from app.auth import key_secret
    from app.schemas.keys import KeyCreate
    from app.services.keys import create_key, get_system_by_slug

    _valid(KeyCreate, {"scopes": scope, "client": client})
    expires_at = None
    if expires is not None:
        try:
            day = date.fromisoformat(expires)
        except ValueError:
            _fail(f"--expires must be a date such as 2027-03-31, not '{expires}'.")
        expires_at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    engine, factory = _database()
    try:
        with factory.begin() as session:
            found = get_system_by_slug(session, system)
            secret = key_secret(session, Settings())
            _api_key, plaintext = create_key(
                session,
                found.id,
                secret,
                scope,
                datetime.now(UTC),
                name=name,
                expires_at=expires_at,
                client=client,
            )
    except ProblemError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    owner = f", client '{client}'" if client is not None else ""
    err.print(
        f"API key for '{system}' ({', '.join(s.value for s in scope)}{owner}); it is shown once:"
    )
    print(plaintext)


@cli.command("import")
def import_csv(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")
    ],
    system: Annotated[str, typer.Option(help="Slug of the system the responses belong to.")],
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            dir_okay=False,
            help="Write every problem found to this CSV file (line, column, value, problem).",
        ),
    ] = None,
) -> None:
    """Import responses from a CSV file: every line is checked first, then all or none stored.

    Columns: pulse, team, purpose, belief, support, new_ways_of_working,
    partner_relationships, role, profession, organisation, submitted_at, external_id, in
    any order, separated by , or ; (a blank score is a skipped dimension). Header names
    are matched whatever their case and surrounding spaces, with spaces for underscores.
    Importing the same file twice adds nothing.
    """
    import csv
    from contextlib import ExitStack

    from app.db import analyze
    from app.services.imports import ImportReport, import_responses
    from app.services.keys import get_system_by_slug
    from app.services.results.ledger import revise_late

    def say(message: str) -> None:
        # Never wrapped: under a pipe rich would break lines at 80 columns.
        err.print(message, markup=False, highlight=False, soft_wrap=True)

    engine, factory = _database()
    report = ImportReport()
    progress = _ImportProgress(file.name)
    # The import keeps thousands of objects alive per chunk, none in reference cycles; the
    # cyclic garbage collector would rescan them over and over (40% of the time, measured).
    gc.disable()
    try:
        with ExitStack() as stack:
            if errors is not None:
                out = stack.enter_context(errors.open("w", encoding="utf-8", newline=""))
                writer = csv.writer(out)
                writer.writerow(["line", "column", "value", "problem"])
                report.on_error = lambda e: writer.writerow([e.line, e.column, e.value, e.problem])
            session = stack.enter_context(factory())
            raw = stack.enter_context(file.open("rb"))
            stack.enter_context(progress.bars)
            found = get_system_by_slug(session, system)
            import_responses(session, found.id, raw, datetime.now(UTC), progress, report)
            if report.error_count:
                session.rollback()
            else:
                if report.created:
                    progress.finishing()
                    revise_late(session, found.id)  # the import may fill published pulses
                session.commit()
                if report.created:
                    analyze(engine)
    except ProblemError as exc:
        _fail(exc.detail)
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}")
    finally:
        gc.enable()
        engine.dispose()
    if report.error_count:
        shown = report.errors[:SHOWN_PROBLEMS]
        for error in shown:
            say(f"{file.name}: {error}")
        if report.error_count > len(shown):
            say(f"... and {report.error_count - len(shown):,} more.")
        columns = ", ".join(
            f"{column or '(whole line)'} {count:,}"
            for column, count in report.by_column.most_common()
        )
        say(f"Problems by column: {columns}.")
        if errors is not None:
            say(f"Every problem is listed in {errors}.")
        elif report.error_count > len(shown):
            say("To list every problem in a CSV file, run again with --errors FILE.")
        say(
            f"error: {report.error_count:,} problem(s) on {report.bad_lines:,} line(s); "
            "nothing was imported."
        )
        raise typer.Exit(code=1)
    say(
        f"Imported {report.rows:,} rows: {report.created:,} responses stored, "
        f"{report.already_stored:,} already stored."
    )


# Problems printed on screen; --errors writes them all.
SHOWN_PROBLEMS = 20


class _ImportProgress:
    """The import's progress on the terminal, in rows, by phase; nothing when not a terminal."""

    def __init__(self, name: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bars = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            "rows",
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.checking = self.bars.add_task(f"Checking {name}", total=None)
        self.storing = self.bars.add_task("Storing", total=None)

    def expect(self, rows: int) -> None:
        """Set the number of rows of both phases."""
        self.bars.update(self.checking, total=rows)
        self.bars.update(self.storing, total=rows)

    def checked(self, rows: int) -> None:
        """Advance the checking phase."""
        self.bars.advance(self.checking, rows)

    def stored(self, rows: int) -> None:
        """Advance the storing phase."""
        self.bars.advance(self.storing, rows)

    def halted(self) -> None:
        """Say that nothing will be kept."""
        self.bars.update(self.storing, description="Storing (problems found: none will be kept)")

    def finishing(self) -> None:
        """Show the last phase, which has no rows to count."""
        self.bars.add_task("Updating the results of published pulses", total=None)


@cli.command()
def publish(
    watch: Annotated[
        bool, typer.Option(help="Keep running, looking again every --interval seconds.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=1, help="Seconds between looks, with --watch.")
    ] = 60.0,
) -> None:
    """Compute the results of closed pulses that need it, ahead of the first read."""
    from app.services.results.publisher import publish_pending

    engine, factory = _database()
    try:
        while True:
            failed = 0
            try:
                for done in publish_pending(factory, lambda: datetime.now(UTC)):
                    if done.error is None:
                        err.print(f"{done.system}/{done.pulse}: computed in {done.seconds:.2f} s")
                    else:
                        failed += 1
                        err.print(f"{done.system}/{done.pulse}: failed: {done.error}")
            except OperationalError as exc:
                if not watch:
                    _fail(f"The database cannot be reached: {exc.orig}")
                err.print(f"The database cannot be reached; trying again in {interval:g} s.")
            except SQLAlchemyError as exc:
                if not watch:
                    _fail(f"Publishing failed: {exc}")
                err.print(f"Publishing failed ({exc}); trying again in {interval:g} s.")
            if not watch:
                if failed:
                    _fail(f"{failed} pulse(s) could not be published.")
                err.print("The results of the recent closed pulses are current.")
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@cli.command()
def demo(
    slug: Annotated[str, typer.Option(help="Slug of the demo system.")] = "demo",
    seed: Annotated[int, typer.Option(help="Seed of the made-up answers.")] = 7,
    publish: Annotated[
        bool,
        typer.Option(
            help="Compute its results now, as `pulse publish` does; without, the first read "
            "or the service's publisher does."
        ),
    ] = True,
) -> None:
    """Create a realistic demo system and print an admin key and commands to try."""
    from app.auth import key_secret
    from app.db import analyze
    from app.services.demo import build_demo
    from app.services.keys import create_key
    from app.services.results.publisher import publish_pending

    engine, factory = _database()
    now = datetime.now(UTC)
    try:
        with factory.begin() as session:
            system = build_demo(session, slug, now, seed)
            _row, plaintext = create_key(
                session,
                system.id,
                key_secret(session, Settings()),
                [Scope.admin],
                now,
                name="demo admin",
            )
        if publish:  # so that the first read answers at once
            err.print(f"Demo system '{slug}' created; computing its results.")
            for done in publish_pending(factory, lambda: datetime.now(UTC)):
                if done.error is not None:
                    _fail(f"{done.system}/{done.pulse}: failed: {done.error}")
        analyze(engine)
    except ProblemError as exc:
        _fail(exc.detail)
    finally:
        engine.dispose()
    err.print(f"Demo system '{slug}' ready. Its admin key, shown once:")
    print(plaintext)
    err.print(
        "\nWith the service running (`pulse serve`), try:\n"
        f"  KEY={plaintext}\n"
        '  curl -s -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/v1/warning-signs\n'
        '  curl -s -H "Authorization: Bearer $KEY" '
        "http://127.0.0.1:8000/v1/teams/riverside-nt2/scores\n"
        '  curl -s -H "Authorization: Bearer $KEY" '
        "'http://127.0.0.1:8000/v1/warning-signs?place=hillcrest&severity=red'\n"
        '  curl -s -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/v1/rules\n',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@cli.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Print the OpenAPI contract (commit it as openapi/openapi.json)."""
    from app.main import create_app

    text = json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"Wrote {output}.")


def _valid(model: type[M], values: dict[str, object]) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(problems)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the `pulse` command."""
    cli()
