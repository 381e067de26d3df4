"""`tinyctl deploy-dags`: copy DAG files into the stack atomically and report, per file, within
seconds, whether each DAG is live or why not.

The phases, in the order `task.deploy_dags` runs them:
1. sources: collect the files (symlinks out of the project refused), the modules they may import.
2. local: deploy the shared include code; check each changed file here (it compiles, its
   top-level imports resolve in the image); write it into the stack's DAG folder atomically
   (temp file + rename), keeping the old bytes; report (or --prune) what the stack has extra.
3. confirm: ask Airflow to parse the written files now (in the dag-processor; else
   `parseDagFile`, new files being found by its one-second folder refresh) and wait until
   their DAGs show a fresh parse, or an import error for them appears. An import error, a
   parse timeout or an interrupt (Ctrl-C) puts the previous good version back (and has it
   re-parsed) or withdraws a new file, so a broken or unchecked edit never stays in the stack.
4. report: the unchanged files' verdicts, --unpause, the report saying which version is live.
"""

from tinyctl.dags.deploy.confirm import refresh_interval
from tinyctl.dags.deploy.results import DagState, DeployReport, FileResult, require_deployable
from tinyctl.dags.deploy.sources import collect_sources, wanted
from tinyctl.dags.deploy.task import deploy_dags
from tinyctl.dags.deploy.tracebacks import error_location, traceback_tail

__all__ = [
    "DagState",
    "DeployReport",
    "FileResult",
    "collect_sources",
    "deploy_dags",
    "error_location",
    "refresh_interval",
    "require_deployable",
    "traceback_tail",
    "wanted",
]
