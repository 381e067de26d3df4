"""The last phases of a deploy: the unchanged files' verdicts, unpausing, the report."""

from __future__ import annotations

import time

from tinyctl.dags.code import pending_plugins
from tinyctl.dags.deploy.results import (
    DeployReport,
    FileResult,
    dag_states,
    module_result,
    module_verdict,
)
from tinyctl.dags.deploy.run import DeployRun


def report_unchanged(run: DeployRun) -> None:
    """Each unchanged file with its DAGs, or the same verdict as when it was deployed."""
    if not run.unchanged:
        return
    by_file = run.dags_by_file()
    for rel, check, content in run.unchanged:
        dags = [d for d in by_file.get(rel, []) if not d.is_stale]
        verdict = run.verdicts.get(content)
        if not dags and (
            not rel.endswith(".py") or not check.may_define_dags or verdict == "no_dag"
        ):
            result = module_result(rel, module_verdict(rel, check), check, None)
        else:
            result = FileResult(rel, "unchanged", dags=dag_states(dags))
        run.report(result)


def unpause_live(run: DeployRun) -> None:
    """--unpause: every paused DAG of a live or unchanged file."""
    for result in run.results:
        if result.status in ("live", "unchanged"):
            for state in result.dags:
                if state.paused:
                    run.client.set_paused(state.dag_id, False)
                    state.paused = False


def final_report(run: DeployRun, order: list[str]) -> DeployReport:
    """The results in the sources' order (include code first), with where the time went."""
    position = {rel: i for i, rel in enumerate(order)}
    run.results.sort(
        key=lambda r: (r.folder != "include", position.get(r.file, len(position)), r.file)
    )
    return DeployReport(
        run.results,
        time.monotonic() - run.started,
        pending_plugins(run.project),
        timings=run.timings,
    )
