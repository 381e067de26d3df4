"""Parse DAG files the way Airflow's DAG processor does; run INSIDE the project's Airflow image.

Used by `tinyctl parse` (a one-off container, no stack) and by `tinyctl deploy-dags` (in the
running dag-processor). It is fed on stdin (`python - ROOT [FILE ...]`), imports Airflow once,
and for each file:

- honours `.airflowignore` (Airflow's own file discovery) when no files are named;
- applies Airflow's safe-mode heuristic (`might_contain_dag`, including a configured
  `core.might_contain_dag_callable`): a file it rejects is never parsed by Airflow -> "skipped";
- imports it with Airflow's DagBag (`process_file`, the importer the DAG processor uses, with
  its import timeout), and reports the DAG ids, or the import error with its traceback.

Prints one line `TINYCTL-PARSE <json>` on stdout; everything else (Airflow's logging) is noise.
"""

import json
import logging
import os
import sys
import time
import traceback

MARKER = "TINYCTL-PARSE "


def main(argv):
    started = time.monotonic()
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
    from airflow.utils.file import list_py_file_paths, might_contain_dag

    safe_mode = conf.getboolean("core", "dag_discovery_safe_mode", fallback=True)
    files = named or list_py_file_paths(root, safe_mode=False)
    bag = DagBag(dag_folder=root, collect_dags=False, bundle_path=None, load_op_links=False)
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
                dags = bag.process_file(path, only_if_updated=False, safe_mode=safe_mode)
                item["dags"] = sorted({d.dag_id for d in dags})
                if bag.import_errors:
                    text = "\n".join(bag.import_errors.values())
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
    report = {
        "airflow_version": airflow.__version__,
        "safe_mode": safe_mode,
        "seconds": round(time.monotonic() - started, 3),
        "files": results,
    }
    sys.stdout.write("\n" + MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "import error"


if __name__ == "__main__":
    main(sys.argv[1:])
