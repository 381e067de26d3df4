"""Parse DAG files the way Airflow's DAG processor does; run INSIDE the project's Airflow image.

Used by `tinyctl parse` (a one-off container, no stack) and by `tinyctl deploy-dags` (in the
running dag-processor). It is fed on stdin (`python - ROOT [FILE ...]`), imports Airflow once,
and for each file:

- honours `.airflowignore` (Airflow's own file discovery) when no files are named;
- applies Airflow's safe-mode heuristic (`might_contain_dag`, including a configured
  `core.might_contain_dag_callable`): a file it rejects is never parsed by Airflow -> "skipped";
- imports it with Airflow's DagBag (`process_file`, the importer the DAG processor uses, with
  its import timeout) and serialises each DAG as the DAG processor does (a DAG that does not
  serialise is an import error there too); reports the DAG ids, or the error with its traceback.

With `--sync BUNDLE` (deploy-dags, inside the running dag-processor) the results are then written
to Airflow's database with Airflow's own `update_dag_parsing_results_in_db` (what `airflow dags
reserialize` does for a whole bundle), for the named files only: DAGs and import errors are
visible at once instead of after the processor's queue reaches the files.

The sync holds the running dag-processor's own writes back for its transaction (it parses the
same new files at the same moment; two inserts of one new DAG crashed it). The report has the
seconds spent importing Airflow, parsing and syncing; the process then exits at once, skipping the
interpreter's teardown.

Prints one line `TINYCTL-PARSE <json>` on stdout; everything else (Airflow's logging) is noise.
"""

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

MARKER = "TINYCTL-PARSE "
# A lock not granted in this time fails the sync: deploy then waits for the dag-processor.
LOCK_TIMEOUT_SECONDS = 15


def main(argv):
    started = time.monotonic()
    sync_bundle = None
    if argv[:1] == ["--sync"]:
        sync_bundle, argv = argv[1], argv[2:]
    root = os.path.abspath(argv[0])
    named = [os.path.join(root, rel) for rel in argv[1:]]
    logging.disable(logging.CRITICAL)
    sys.path.insert(0, root)  # Airflow puts the DAG folder on sys.path
    for extra in os.environ.get("TINYCTL_PARSE_SYS_PATH", "").split(os.pathsep):
        if extra and extra not in sys.path:
            sys.path.insert(1, extra)
    import airflow
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization, LazyDeserializedDAG
    from airflow.utils.file import list_py_file_paths, might_contain_dag

    imported = time.monotonic()

    safe_mode = conf.getboolean("core", "dag_discovery_safe_mode", fallback=True)
    files = named or list_py_file_paths(root, safe_mode=False)
    bag = DagBag(
        dag_folder=root,
        collect_dags=False,
        bundle_path=Path(root) if sync_bundle else None,
        bundle_name=sync_bundle,
        load_op_links=False,
    )
    depth = conf.getint("core", "dagbag_import_error_traceback_depth", fallback=2)
    serialized = []
    import_errors = {}
    parsed = set()
    results = []
    for path in files:
        rel = os.path.relpath(path, root)
        item = {"file": rel, "status": "ok", "dags": [], "error": None, "traceback": None}
        begin = time.monotonic()
        try:
            if not os.path.isfile(path):
                item.update(status="error", error="no such file")
            elif path.endswith(".py") and not might_contain_dag(path, safe_mode):
                item["status"] = "skipped"
            else:
                bag.import_errors.clear()
                bag.dags.clear()
                dags = bag.process_file(path, only_if_updated=False, safe_mode=safe_mode)
                parsed.add(rel)
                errors = list(bag.import_errors.values())
                good = []
                for dag in dags:  # as the DAG processor's _serialize_dags
                    try:
                        data = DagSerialization.to_dict(dag)
                        good.append(dag.dag_id)
                        if os.environ.get("TINYCTL_PARSE_SHAPES"):
                            item.setdefault("shapes", {})[dag.dag_id] = _shape(data)
                        serialized.append(
                            LazyDeserializedDAG(data=data, last_loaded=dag.last_loaded)
                        )
                    except Exception:
                        errors.append(traceback.format_exc(limit=-depth))
                item["dags"] = sorted(good)
                if errors:
                    text = "\n".join(errors)
                    import_errors[rel] = text
                    item.update(status="error", traceback=text, error=_last_line(text))
                elif not dags:
                    item["status"] = "no_dag"
        except Exception as error:  # a failure of the parse itself, still one file's verdict
            item.update(
                status="error",
                error=f"{type(error).__name__}: {error}",
                traceback=traceback.format_exc(limit=-5),
            )
        item["seconds"] = round(time.monotonic() - begin, 3)
        results.append(item)
    parsed_at = time.monotonic()
    synced = None
    if sync_bundle:
        synced = _sync(sync_bundle, serialized, import_errors, parsed, bag)
    report = {
        "phases": {  # seconds inside: importing Airflow, parsing the files, writing the results
            "import": round(imported - started, 3),
            "parse": round(parsed_at - imported, 3),
            "sync": round(time.monotonic() - parsed_at, 3),
        },
        "airflow_version": airflow.__version__,
        "synced": synced,
        "safe_mode": safe_mode,
        "seconds": round(time.monotonic() - started, 3),
        "files": results,
    }
    sys.stdout.write("\n" + MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # Tearing down an interpreter that imported Airflow (its module graph, its atexit hooks)
    # took 1 to 4 s here, and the caller waits for the exit: close the metadata DB connections
    # cleanly, then leave at once.
    if sync_bundle:
        from airflow import settings

        settings.dispose_orm(do_log=False)
    os._exit(0)


def _sync(bundle, serialized, import_errors, parsed, bag):
    """Write the results for the parsed files to Airflow's DB, as `airflow dags reserialize`."""
    try:
        from airflow.dag_processing.collection import update_dag_parsing_results_in_db
        from airflow.utils.session import create_session

        with create_session() as session:
            _exclude_dag_processor(session)
            update_dag_parsing_results_in_db(
                bundle,
                None,
                serialized,
                {(bundle, rel): text for rel, text in import_errors.items()},
                None,
                bag.dag_warnings,
                session=session,
                files_parsed={(bundle, rel) for rel in parsed},
            )
        return {"ok": True}
    except Exception as error:  # deploy then waits for the DAG processor as before
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def _exclude_dag_processor(session):
    """Hold the dag processor's writes back until this transaction commits.

    The running dag-processor finds the same new files within a second and parses them too;
    when both insert the rows of a new DAG at the same time, the later commit hits a unique
    violation (seen: task_outlet_asset_reference), which crashes the dag-processor. Each of its
    writes starts with SELECT ... FOR UPDATE on `dag` (import-error-only writes touch
    `import_error`): an EXCLUSIVE lock on both tables makes it wait and then update the rows
    written here instead of inserting them again. Plain reads (the API, the UI) are not blocked.
    """
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))
    session.execute(text("LOCK TABLE dag, import_error IN EXCLUSIVE MODE"))


def _shape(data):
    """Task ids, dependencies and schedule of one serialised DAG (`tinyctl upgrade-test`)."""
    dag = data.get("dag", data)
    tasks = {}
    for entry in dag.get("tasks") or []:
        task = entry.get("__var", entry) if isinstance(entry, dict) else {}
        downstream = task.get("downstream_task_ids") or []
        if isinstance(downstream, dict):  # an encoded set
            downstream = downstream.get("__var") or []
        tasks[task.get("task_id", "?")] = sorted(downstream)
    timetable = dag.get("timetable") or {}
    return {
        "tasks": tasks,
        "schedule": {
            "type": timetable.get("__type") or timetable.get("type"),
            "value": timetable.get("__var") or timetable.get("value"),
        },
    }


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "import error"


if __name__ == "__main__":
    main(sys.argv[1:])
