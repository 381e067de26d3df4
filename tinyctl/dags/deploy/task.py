"""`deploy_dags`: the phases of a deploy, chosen and sequenced (each lives in its own module)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tinyctl.airflow import AirflowClient
from tinyctl.dags.deploy.confirm import (
    parse_now,
    put_back_restored,
    settle_without_dags,
    wait_for_airflow,
    withdraw_unconfirmed,
)
from tinyctl.dags.deploy.local import (
    check_and_write,
    deploy_shared_code,
    report_extras,
    report_refused,
)
from tinyctl.dags.deploy.report import final_report, report_unchanged, unpause_live
from tinyctl.dags.deploy.results import DeployReport, FileResult
from tinyctl.dags.deploy.run import DeployRun
from tinyctl.dags.deploy.sources import collect_sources, known_modules
from tinyctl.errors import TinyctlError, WorkFailed
from tinyctl.project import Project


def deploy_dags(
    project: Project,
    client: AirflowClient,
    *,
    paths: Iterable[Path] | None = None,
    prune: bool = False,
    unpause: bool = False,
    timeout: float = 60.0,
    on_result: Callable[[FileResult], None] | None = None,
) -> DeployReport:
    """Deploy the DAG folder (or `paths`) and report each file as Airflow confirms it."""
    run = DeployRun.begin(project, client, timeout=timeout, on_result=on_result)
    refused: dict[str, str] = {}
    sources = collect_sources(project, paths, refused)
    known = known_modules(project, sources, run.target_root)
    report_refused(run, refused)
    touched = deploy_shared_code(run)
    try:
        check_and_write(run, sources, known, touched)
        if not paths:
            report_extras(run, set(sources) | set(refused), prune)
        parsed = parse_now(run)
        waiting = settle_without_dags(run, parsed)
        deadline = wait_for_airflow(run, waiting)
        put_back_restored(run, parsed, deadline)
        report_unchanged(run)
        run.verdicts.save()
        if unpause:
            unpause_live(run)
    except TinyctlError as error:  # Airflow (or the stack) failed while files were unchecked
        withdraw_unconfirmed(run)
        if not run.pending:
            raise
        raise WorkFailed(
            f"the deploy was cut short: {error.message}",
            details=error.details,
            hint="Every file it had written is back to its previous version (a new file was "
            "withdrawn), so the stack runs what it ran before. "
            + (error.hint or "`tinyctl status` says what is wrong; `tinyctl up` brings it back.")
            + " Then run `tinyctl deploy-dags` again.",
        ) from None
    except BaseException:  # Ctrl-C (or any failure) while files are unchecked: put them back
        withdraw_unconfirmed(run)
        raise
    return final_report(run, list(sources))
