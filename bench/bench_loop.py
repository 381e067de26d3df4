"""Benchmark of the DAG author's loop on Airflow's own example DAGs (apache-airflow-core 3.3.2's
airflow/example_dags/: 60 files, 58 of them Python, 11 of those defining no DAG).

1. `tinyctl parse --json` of the whole folder, with NO stack (one one-off container of the
   project's image). Baseline, same run: the floor, `docker run --rm --network none <image>
   python -c "import airflow.dag_processing.dagbag"` (start a container, import Airflow).
   Target: < 15 s.
2. On one stack (`up --no-deploy`): `tinyctl deploy-dags <examples>` into an empty DAG folder,
   until every file is reported (DAGs live, import error, or module with no DAG). Between
   samples the files are removed again (`deploy-dags --prune` of the project's own folder).
   Target: < 10 s. The verdicts are compared with Airflow's own import-error list.

The example files come from `pip download apache-airflow-core==3.3.2 --no-deps` (or --examples DIR).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ENV,
    PYTHON,
    Figure,
    Project,
    Report,
    create_project,
    finish_project,
    main_wrapper,
    parser,
    ratio_figure,
    run,
    workspace,
)

SCRIPT = "bench_loop"
PARSE_TARGET = 15.0
DEPLOY_TARGET = 10.0
IMAGE = "tinyctl/airflow:3.3.2-debian"


def example_dags(base: Path, given: Path | None) -> Path:
    if given:
        return given
    wheel_dir = base / "wheel"
    run(
        [
            PYTHON,
            "-m",
            "pip",
            "download",
            "apache-airflow-core==3.3.2",
            "--no-deps",
            "-q",
            "-d",
            str(wheel_dir),
        ],
        timeout=600,
    )
    wheel = next(wheel_dir.glob("apache_airflow_core-3.3.2-*.whl"))
    target = base / "examples"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("airflow/example_dags/") and not member.endswith("/"):
                relative = Path(member).relative_to("airflow/example_dags")
                if "__pycache__" in relative.parts:
                    continue
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                (target / relative).write_bytes(archive.read(member))
    return target


def timed(
    argv: list[str], cwd: Path, timeout: float = 900
) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, done


def body(args, report: Report) -> None:
    with workspace(args, "loop") as base:
        examples = example_dags(base, args.examples)
        files = [p for p in examples.rglob("*") if p.is_file()]
        report.notes.append(
            f"{len(files)} example files ({sum(p.suffix == '.py' for p in files)} Python)"
        )
        project: Project | None = None
        try:
            project = create_project(base, "bl")
            dags = project.root / "dags"
            for sample in dags.glob("*.py"):
                sample.unlink()
            parse_dir = project.root / "dags"
            shutil.copytree(examples, parse_dir, dirs_exist_ok=True)
            section = report.section("parse (no stack)")
            parse = report.add(
                section,
                Figure("parse", "tinyctl parse, 60 example files", "s", target=("<", PARSE_TARGET)),
            )
            floor = report.add(
                section, Figure("floor", "baseline: docker run + import Airflow", "s")
            )
            project.tinyctl("build")  # builds are never timed
            for i in range(args.repeat):
                order = [0, 1] if i % 2 == 0 else [1, 0]
                for which in order:
                    if which == 0:
                        seconds, done = timed(
                            [PYTHON, "-m", "tinyctl", "parse", "--json"], project.root
                        )
                        data = json.loads(done.stdout)
                        parse.samples.append(seconds)
                        report.extra["parse"] = {
                            k: data[k]
                            for k in ("dags", "errors", "parse_seconds", "airflow_version")
                        }
                    else:
                        seconds, _ = timed(
                            [
                                "docker",
                                "run",
                                "--rm",
                                "--network",
                                "none",
                                "--entrypoint",
                                "python",
                                IMAGE,
                                "-c",
                                "import airflow.dag_processing.dagbag",
                            ],
                            project.root,
                        )
                        floor.samples.append(seconds)
            report.add(section, ratio_figure("parse_ratio", "parse / floor", parse, floor))

            # deploy: the project's own DAG folder is emptied, the examples deployed from outside it
            for path in sorted(parse_dir.iterdir()):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            project.tinyctl("up", "--no-deploy", timeout=1800)
            section = report.section("deploy-dags (live stack)")
            deploy = report.add(
                section,
                Figure(
                    "deploy",
                    "tinyctl deploy-dags, 60 example files",
                    "s",
                    target=("<", DEPLOY_TARGET),
                ),
            )
            for _ in range(args.repeat):
                project.tinyctl("deploy-dags", "--prune", check=False)
                seconds, done = timed(
                    [PYTHON, "-m", "tinyctl", "deploy-dags", str(examples), "--json"], project.root
                )
                deploy.samples.append(seconds)
                data = json.loads(done.stdout)
                verdicts: dict[str, int] = {}
                for item in data["files"]:
                    verdicts[item["status"]] = verdicts.get(item["status"], 0) + 1
                report.extra["deploy_verdicts"] = verdicts
                report.extra.setdefault("deploy_timings", []).append(data.get("timings"))
                report.extra["deploy_import_errors"] = sorted(
                    f["file"] for f in data["files"] if f["status"] == "import_error"
                )
            airflow_errors = run(
                [
                    PYTHON,
                    "-m",
                    "tinyctl",
                    "airflow",
                    "dags",
                    "list-import-errors",
                    "--output",
                    "json",
                ],
                cwd=project.root,
                check=False,
            )
            # Airflow's CLI prints its warnings (graphviz) on stdout before the JSON. A new file
            # that fails to import is withdrawn by deploy-dags, and Airflow then clears its error:
            # this list is what is left in the stack afterwards, not what the deploy saw (the
            # deploy's import errors are read from Airflow's own list, through its API).
            listed = [line for line in airflow_errors.stdout.splitlines() if line.startswith("[")]
            try:
                report.extra["airflow_import_errors_after"] = sorted(
                    Path(e["filepath"]).name for e in json.loads(listed[-1])
                )
            except (ValueError, KeyError, TypeError, IndexError):
                report.extra["airflow_import_errors_after"] = airflow_errors.stdout[-500:]
        finally:
            finish_project(project, args)


def main() -> int:
    p = parser(SCRIPT, __doc__.splitlines()[0], repeat=3)
    p.add_argument(
        "--examples", type=Path, help="a folder of example DAG files (default: pip download)"
    )
    args = p.parse_args()
    return main_wrapper(body, args, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
