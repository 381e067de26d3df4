"""Benchmark of test-etl's expected-output comparison (`expected:`) of a 1,000,000-row table
against its expected CSV, beside a plain EXCEPT of the same tables, in the same run.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ENV,
    PYTHON,
    Figure,
    Project,
    Psql,
    Report,
    create_project,
    finish_project,
    log,
    main_wrapper,
    parser,
    ratio_figure,
    run_measured,
    start_warehouse,
    workspace,
)

SCRIPT = "bench_expected"
RATIO_TARGET = 1.5
MEMORY_TARGET_MIB = 200
TABLE = "staging.bench_expected_actual"  # the compared table (primary key id)
EXPECTED_TABLE = "staging.bench_expected_rows"  # the expected CSV as a table, for EXCEPT
TEST = "bench_expected"
EXPECTED_FILE = "bench-data/expected.csv"
COLUMNS = {
    "id": "bigint",
    "customer_id": "integer",
    "order_date": "date",
    "amount": "numeric(12,2)",
    "currency": "char(3)",
    "note": "text",
}
COLUMN_LIST = ", ".join(COLUMNS)
EXCEPT_BOTH = (
    f"SELECT count(*) FROM ((SELECT {COLUMN_LIST} FROM {TABLE} EXCEPT"
    f" SELECT {COLUMN_LIST} FROM {EXPECTED_TABLE}) UNION ALL (SELECT {COLUMN_LIST} FROM"
    f" {EXPECTED_TABLE} EXCEPT SELECT {COLUMN_LIST} FROM {TABLE})) AS d"
)


def generate(actual: Path, expected: Path, rows: int, seed: int = 20261101) -> tuple[int, int]:
    """The table's rows as CSV, and its expected CSV: the same rows with one changed cell (the
    amount of row rows/4) and one row more (id rows+1, which the table lacks: missing).
    Orders-like columns; some notes need CSV quoting. Returns (changed id, missing id)."""
    rng = random.Random(seed)
    currencies = ("EUR", "USD", "GBP", "CHF", "SEK")
    notes = ("", "first order", "gift, wrapped", 'said "thanks"', "express delivery", "pickup")
    days = [(date(2026, 1, 1) + timedelta(days=d)).isoformat() for d in range(365)]
    changed, missing = max(rows // 4, 1), rows + 1
    actual.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join(COLUMNS) + "\n"

    def line(i: int) -> tuple[str, str]:
        note = notes[rng.randrange(len(notes))]
        if "," in note or '"' in note:
            note = '"' + note.replace('"', '""') + '"'
        amount = f"{rng.randrange(100, 10_000_000) / 100:.2f}"
        head = f"{i},{rng.randrange(1, 100_000)},{days[rng.randrange(365)]},"
        tail = f",{currencies[rng.randrange(5)]},{note}\n"
        return head + amount + tail, head + ("0.01" if i == changed else amount) + tail

    with actual.open("w", newline="") as a, expected.open("w", newline="") as e:
        a.write(header)
        e.write(header)
        batch_a: list[str] = []
        batch_e: list[str] = []
        for i in range(1, rows + 1):
            row_a, row_e = line(i)
            batch_a.append(row_a)
            batch_e.append(row_e)
            if len(batch_a) >= 50_000:
                a.writelines(batch_a)
                e.writelines(batch_e)
                batch_a.clear()
                batch_e.clear()
        a.writelines(batch_a)
        e.writelines(batch_e)
        e.write(line(missing)[1])
    return changed, missing


def add_test(project: Project) -> None:
    """The spec's test: the table against its expected file, keyed by id."""
    text = project.spec_file.read_text()
    anchor = "\ntests:\n"
    if anchor not in text:
        raise RuntimeError("the scaffolded spec has no top-level `tests:` section")
    block = (
        f"  - name: {TEST}\n    dag: staging_orders\n    expect:\n      - expected:\n"
        f"          table: {TABLE}\n          file: {EXPECTED_FILE}\n          key: [id]\n"
    )
    project.spec_file.write_text(text.replace(anchor, anchor + block, 1))


def load_tables(psql: Psql, project: Project) -> None:
    """Untimed: the table (with its primary key, as an output table has) and the expected CSV
    as a second table (no index: EXCEPT uses none), both analysed."""
    columns = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    psql(
        f"DROP TABLE IF EXISTS {TABLE}, {EXPECTED_TABLE}",
        f"CREATE TABLE {TABLE} ({columns}, PRIMARY KEY (id))",
        f"CREATE TABLE {EXPECTED_TABLE} ({columns})",
    )
    for table, name in ((TABLE, "actual.csv"), (EXPECTED_TABLE, "expected.csv")):
        path = project.root / "bench-data" / name
        psql(f"\\copy {table} ({COLUMN_LIST}) FROM '{path}' WITH (FORMAT csv, HEADER true)")
    psql(f"VACUUM ANALYZE {TABLE}", f"VACUUM ANALYZE {EXPECTED_TABLE}")


def check_verdict(data: dict, changed: int, missing: int) -> dict:
    """The one expectation of the JSON report; raises unless it names exactly the changed
    cell and the missing row."""
    expectation = data["tests"][0]["expectations"][0]
    diff = expectation.get("details", {}).get("diff", {})
    counts = diff.get("counts", {})
    rows = diff.get("rows", {})
    keys = {
        kind: [entry.get("key", {}).get("id") for entry in rows.get(kind, [])]
        for kind in ("missing", "changed")
    }
    if (
        expectation["failures"] != 2
        or counts != {"missing": 1, "unexpected": 0, "changed": 1}
        or keys != {"missing": [str(missing)], "changed": [str(changed)]}
        or not rows["changed"][0]["cells"].startswith("amount: 0.01 -> ")
    ):
        raise RuntimeError(f"unexpected verdict: {json.dumps(expectation)[:2000]}")
    return expectation


def explain(psql: Psql, project: Project) -> dict[str, str]:
    """Where the time goes, for the JSON: the plans of the comparison's diff (as tinyctl runs
    it, in its session) and of the EXCEPT baseline, with EXPLAIN ANALYZE."""
    from tinyctl.data.test_etl import expected
    from tinyctl.db import session
    from tinyctl.db import sql as q
    from tinyctl.project import Project as TinyctlProject
    from tinyctl.spec.models import Expectation
    from tinyctl.state.secrets import READER_ROLE

    opened = TinyctlProject.open(project.spec_file, ENV)
    body = Expectation.model_validate(
        {"expected": {"table": TABLE, "file": EXPECTED_FILE, "key": ["id"]}}
    ).body
    plans: dict[str, str] = {}
    with session(opened.warehouse(None, role=READER_ROLE)) as s:
        started = time.perf_counter()
        plan = expected._plan(s, body, expected.source_of(body, opened.root))
        load = time.perf_counter() - started
        _, rows = s.query(q.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + expected.diff_sql(body, plan))
        plans["tinyctl diff"] = "\n".join(r[0] for r in rows)
        plans["tinyctl load (COPY + key index), seconds"] = f"{load:.3f}"
    plans["EXCEPT both ways"] = psql.scalar(f"EXPLAIN (ANALYZE, BUFFERS) {EXCEPT_BOTH}")
    return plans


def body(args: argparse.Namespace, report: Report) -> None:
    rows = args.rows
    main = report.section(
        f"expected: {rows:,}-row table vs its expected CSV (1 changed cell, 1 missing row)"
    )
    where = report.section("where tinyctl's time goes (in-process, same run)")
    cli = Figure(
        "test_etl_no_run_s",
        f"tinyctl test-etl --no-run -k {TEST} (CLI, process start to end)",
        "s",
    )
    baseline = Figure(
        "except_both_s",
        "baseline: psql, plain EXCEPT both directions of the two tables",
        "s",
        note="server defaults (work_mem, jit); the expected rows are already a table",
    )
    by_hand = Figure(
        "copy_and_except_s",
        "reference: psql \\copy of the CSV into a temp table, then the same EXCEPT",
        "s",
        note="the same work as tinyctl by hand: load the file, then compare (one psql session)",
    )
    memory = Figure(
        "test_etl_peak_rss_mib",
        "peak RSS of the tinyctl process",
        "MiB",
        target=("<", MEMORY_TARGET_MIB),
    )
    check_s = Figure(
        "check_seconds",
        "the expectation's own time (its `seconds` in the JSON report)",
        "s",
    )
    preflight_s = Figure(
        "preflight_inprocess_s",
        "preflight: the expected file scanned in Python (key unique, row widths)",
        "s",
    )
    evaluate_s = Figure(
        "evaluate_inprocess_s",
        "the check: COPY into a temp table, key index, FULL JOIN diff, sample",
        "s",
    )
    loads: list[float] = []  # the 1-minute load average before each timed sample
    project: Project | None = None
    with workspace(args, "expected") as base:
        try:
            project = create_project(base, "bx")
            log(f"Postgres only (no Airflow) for {project.name}")
            start_warehouse(project)
            psql = Psql(project)
            log(f"generating {rows:,} rows (+ the expected file)")
            changed, missing = generate(
                project.root / "bench-data" / "actual.csv",
                project.root / EXPECTED_FILE,
                rows,
            )
            load_tables(psql, project)
            add_test(project)
            argv = [PYTHON, "-m", "tinyctl", "test-etl", "--no-run", "-k", TEST, "--json"]

            def tinyctl() -> None:
                result = run_measured(argv, cwd=project.root)
                if result.returncode != 1:  # the diff fails the test: exit 1 is the right answer
                    raise RuntimeError(f"test-etl exited {result.returncode}:\n{result.describe()}")
                expectation = check_verdict(json.loads(result.stdout), changed, missing)
                cli.samples.append(result.seconds)
                memory.samples.append(result.peak_rss_mib)
                check_s.samples.append(float(expectation["seconds"]))

            def except_both() -> None:
                result = run_measured(psql.argv("-A", "-t", "-c", EXCEPT_BOTH), env=psql.env)
                if result.returncode != 0 or result.stdout.strip() != "3":
                    raise RuntimeError(
                        f"EXCEPT gave {result.stdout.strip()!r}: {result.describe()}"
                    )
                baseline.samples.append(result.seconds)

            def copy_and_except() -> None:
                path = project.root / EXPECTED_FILE
                commands = [
                    f"CREATE TEMP TABLE e AS SELECT {COLUMN_LIST} FROM {TABLE} WITH NO DATA",
                    f"\\copy e FROM '{path}' WITH (FORMAT csv, HEADER true)",
                    EXCEPT_BOTH.replace(EXPECTED_TABLE, "e"),
                ]
                result = run_measured(
                    psql.argv("-A", "-t", *[a for c in commands for a in ("-c", c)]), env=psql.env
                )
                if result.returncode != 0 or result.stdout.strip() != "3":
                    raise RuntimeError(f"COPY + EXCEPT gave {result.stdout!r}: {result.describe()}")
                by_hand.samples.append(result.seconds)

            def in_process() -> None:
                from tinyctl.data.test_etl import kinds, preflight
                from tinyctl.project import Project as TinyctlProject
                from tinyctl.state.secrets import READER_ROLE

                opened = TinyctlProject.open(project.spec_file, ENV)
                test = next(t for t in opened.spec.tests if t.name == TEST)
                started = time.perf_counter()
                preflight.check_tests(opened, [test], live=True)
                preflight_s.samples.append(time.perf_counter() - started)
                dsn = opened.warehouse(test.database, role=READER_ROLE)
                context = kinds.CheckContext(opened.root)
                started = time.perf_counter()
                kinds.evaluate(dsn, test.expect[0], context)
                evaluate_s.samples.append(time.perf_counter() - started)

            log("warm-up (untimed): one of each")
            for measure in (tinyctl, except_both, copy_and_except):
                measure()
            cli.samples.clear()
            memory.samples.clear()
            check_s.samples.clear()
            baseline.samples.clear()
            by_hand.samples.clear()
            sides = [
                ("tinyctl", tinyctl),
                ("EXCEPT", except_both),
                ("COPY+EXCEPT", copy_and_except),
            ]
            for i in range(args.repeat):
                order = sides if i % 2 == 0 else list(reversed(sides))
                for name, measure in order:
                    log(f"{i + 1}/{args.repeat}: {name}")
                    loads.append(os.getloadavg()[0])
                    measure()
            if not args.no_breakdown:
                for i in range(args.repeat):
                    log(f"breakdown {i + 1}/{args.repeat}: preflight and check in-process")
                    in_process()
                report.extra["plans"] = explain(psql, project)
        finally:
            if loads:
                report.extra["load_average_1min"] = [round(x, 2) for x in loads]
                report.notes.append(
                    f"1-minute load average before the timed samples: {min(loads):.1f} .. "
                    f"{max(loads):.1f} on {os.cpu_count()} cores"
                )
            for figure in (cli, baseline, memory):
                report.add(main, figure)
            report.add(
                main,
                ratio_figure(
                    "ratio_tinyctl_vs_except",
                    "ratio tinyctl / EXCEPT (medians)",
                    cli,
                    baseline,
                    target=("<=", RATIO_TARGET),
                ),
            )
            report.add(main, by_hand)
            report.add(
                main,
                ratio_figure(
                    "ratio_tinyctl_vs_copy_and_except",
                    "ratio tinyctl / (\\copy + EXCEPT)",
                    cli,
                    by_hand,
                ),
            )
            for figure in (check_s, preflight_s, evaluate_s):
                report.add(where, figure)
            report.notes.append(
                "tinyctl runs as the real CLI (`python -m tinyctl test-etl --no-run --json`, "
                "start-up, spec, preflight scan, the check, row counts and the run history "
                "included); each side is a process timed start to end, interleaved, the order "
                "alternating every repeat, after one untimed warm-up of each"
            )
            report.notes.append(
                "Postgres only: the project's own postgres + db-setup services from the "
                "compose file tinyctl rendered (no Airflow: --no-run needs none)"
            )
            finish_project(project, args)


def main() -> int:
    p = parser(SCRIPT, __doc__.splitlines()[0], repeat=5)
    p.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in the table (default 1,000,000)"
    )
    p.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the in-process preflight/check figures and the EXPLAIN ANALYZE plans",
    )
    args = p.parse_args()
    if args.rows < 4:
        raise SystemExit("--rows must be at least 4")
    return main_wrapper(body, args, SCRIPT)


if __name__ == "__main__":
    sys.exit(main())
